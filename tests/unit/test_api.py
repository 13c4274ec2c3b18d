"""The Python API as a notebook user writes it."""

from __future__ import annotations

import numpy as np
import pytest

import tsp_celery
from tsp_celery import Problem, Result, load, solve


@pytest.mark.timeout(30)
def test_three_lines_from_file_to_tour(examples_dir):
    result = solve(load(examples_dir / "burma14.tsp"), time=5)
    assert isinstance(result, Result)
    assert result.length == 3323 and result.proven_optimal
    assert isinstance(result.seed, int)  # drawn when not given, reported for reruns
    assert result.optimum == 3323 and result.gap_pct == 0.0  # TSPLIB's published optimum


@pytest.mark.timeout(30)
def test_an_instance_nobody_published_has_no_gap():
    xy = np.random.default_rng(2).random((30, 2)) * 100
    result = solve(Problem.from_coords(xy, name="mine30"), time=1, workers=1)
    assert result.optimum is None and result.gap_pct is None


@pytest.mark.timeout(60)
def test_coordinates_in_result_out(tmp_path):
    xy = np.random.default_rng(4).random((60, 2)) * 1000
    problem = Problem.from_coords(xy, "EUC_2D", name="random60")
    result = solve(problem, time=2, workers=1, seed=11, target=1.0)
    assert sorted(result.tour) == list(range(60))
    assert result.seed == 11
    assert result.optimum == 1.0 and result.gap_pct > 0
    text = result.to_tsplib()
    assert text.startswith("NAME: random60") and text.rstrip().endswith("EOF")
    assert result.to_tsplib(tmp_path / "r.tour") == text
    assert (tmp_path / "r.tour").read_text() == text
    assert result.plot(problem, tmp_path / "r.png").stat().st_size > 10_000


def test_public_names():
    assert set(tsp_celery.__all__) >= {"load", "solve", "Problem", "Result"}
    with pytest.raises(AttributeError):
        tsp_celery.no_such_name  # noqa: B018


def test_solve_wants_a_problem(examples_dir):
    with pytest.raises(TypeError, match="Problem"):
        solve(str(examples_dir / "burma14.tsp"))


@pytest.mark.timeout(60)
def test_cluster_url_goes_to_the_cluster(examples_dir):
    from tsp_celery.errors import ClusterUnreachableError

    with pytest.raises(ClusterUnreachableError, match=r"127\.0\.0\.1:1"):
        solve(load(examples_dir / "berlin52.tsp"), time=2, cluster="redis://127.0.0.1:1/0")


@pytest.mark.timeout(60)
def test_stopping_criteria_combine_and_the_max_runtime_is_the_budget():
    from tsp_celery.plan import MaxRuntime, NoImprovement

    xy = np.random.default_rng(5).random((120, 2)) * 1000
    problem = Problem.from_coords(xy, "EUC_2D", name="random120")
    # one round without a shorter tour ends a 30-second budget early
    result = solve(problem, workers=1, seed=3, stop=MaxRuntime(30) | NoImprovement(rounds=1))
    assert result.elapsed < 25 and result.stats["rounds"] >= 2
    # without a stall rule the MaxRuntime is the budget, which the search uses
    timed = solve(problem, workers=1, seed=3, stop=MaxRuntime(2))
    assert 1.0 < timed.elapsed < 6
