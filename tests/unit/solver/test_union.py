"""Union merging: shared edges become fixed runs, a tour of the contracted problem expands back
to a tour, and the shortest tour in the union graph of flawed tours is one none of them is,
found window by window as well as whole."""

from __future__ import annotations

import os
from itertools import pairwise

import numpy as np
import pytest

from tsp_celery.problem import Problem
from tsp_celery.problem.distance import FLOAT_EUCLIDEAN
from tsp_celery.solver import union
from tsp_celery.solver.quiet import quiet_stdout
from tsp_celery.solver.union import _Reduced, fixed_runs, union_tour
from tsp_celery.solver.units import UnitSpec, run_unit

pytestmark = pytest.mark.timeout(60)


def circle(n: int = 60, radius: float = 10_000) -> Problem:
    """Points on a circle: the tour 0, 1, ..., n-1 is the unique optimum."""
    angle = 2 * np.pi * np.arange(n) / n
    return Problem.from_coords(np.column_stack([np.cos(angle), np.sin(angle)]) * radius,
                               "EUC_2D")


def reversed_at(tour: np.ndarray, i: int, j: int) -> np.ndarray:
    out = tour.copy()
    out[i : j + 1] = out[i : j + 1][::-1]
    return out


def edges(tour: np.ndarray) -> set[frozenset[int]]:
    return {frozenset((int(a), int(b))) for a, b in zip(tour, np.roll(tour, -1), strict=True)}


def test_fixed_runs_cover_every_node_once_joined_only_by_shared_edges():
    rng = np.random.default_rng(3)
    base = np.arange(50)
    tours = [reversed_at(base, 5, 12), reversed_at(np.roll(base, 7), 20, 31), base.copy()]
    runs = fixed_runs(tours)
    assert runs is not None
    assert sorted(np.concatenate(runs).tolist()) == list(range(50))
    shared = edges(tours[0]) & edges(tours[1]) & edges(tours[2])
    for run in runs:
        assert all(frozenset((int(a), int(b))) in shared for a, b in pairwise(run))
    # a run ends where the next edge of the first tour is not shared by all
    joins = {frozenset((int(r[-1]), int(s[0]))) for r, s in zip(runs, runs[1:] + runs[:1],
                                                                strict=True)}
    assert not joins & shared
    assert fixed_runs([base, np.roll(base[::-1], int(rng.integers(50)))]) is None


def test_the_first_tour_contracted_and_expanded_is_itself():
    base = np.arange(40)
    tours = [reversed_at(base, 3, 9), reversed_at(base, 20, 33)]
    reduced = _Reduced(fixed_runs(tours))
    ends_in_order = np.concatenate([[r[0]] if len(r) == 1 else [r[0], r[-1]]
                                    for r in reduced.runs])
    index = {int(v): k for k, v in enumerate(reduced.ends)}
    local = np.array([index[int(v)] for v in ends_in_order])
    for shift in range(len(local)):  # wherever the engine's tour starts
        expanded = reduced.expand(np.roll(local, shift))
        assert edges(expanded) == edges(tours[0])


def test_a_tour_that_breaks_a_forced_edge_is_not_expanded():
    tours = [np.arange(12), reversed_at(np.arange(12), 2, 7)]
    reduced = _Reduced(fixed_runs(tours))
    pair = int(np.flatnonzero(reduced.partner >= 0)[0])
    others = [k for k in range(reduced.m) if k not in (pair, reduced.partner[pair])]
    broken = np.array([pair, others[0], reduced.partner[pair], *others[1:]])
    assert reduced.expand(broken) is None


def test_union_of_two_flawed_tours_finds_the_optimum_neither_has():
    problem = circle()
    optimum = np.arange(problem.n)
    # overlapping 2-opt damage: each tour misses optimal edges that the other one has
    a, b = reversed_at(optimum, 5, 20), reversed_at(optimum, 14, 31)
    assert edges(optimum) <= edges(a) | edges(b)
    tour = union_tour(problem, [a, b], budget_s=1.0, seed=1)
    assert sorted(tour.tolist()) == list(range(problem.n))
    assert problem.tour_length(tour) == problem.tour_length(optimum)
    assert problem.tour_length(tour) < min(problem.tour_length(a), problem.tour_length(b))


def test_union_is_never_longer_than_its_best_tour_and_handles_float_lengths():
    rng = np.random.default_rng(0)
    problem = Problem.from_coords(rng.random((80, 2)), FLOAT_EUCLIDEAN)
    tours = [rng.permutation(80) for _ in range(3)]
    tour = union_tour(problem, tours, budget_s=5.0, seed=2)
    assert sorted(tour.tolist()) == list(range(80))
    assert problem.tour_length(tour) < min(problem.tour_length(t) for t in tours)


def test_windows_smaller_than_the_graph_reach_the_union_optimum(monkeypatch):
    problem = circle(200)
    optimum = np.arange(problem.n)
    # flaws all around the circle, each tour right where another is wrong
    tours = [reversed_at(optimum, s, s + 12) for s in (10, 60, 110, 160)]
    tours += [reversed_at(reversed_at(optimum, s, s + 9), s + 50, s + 59) for s in (5, 30)]
    assert edges(optimum) <= set().union(*map(edges, tours))
    whole = union_tour(problem, tours, budget_s=10.0)
    monkeypatch.setattr(union, "FIRST_WINDOW", 8)
    windowed = union_tour(problem, tours, budget_s=10.0)
    assert problem.tour_length(whole) == problem.tour_length(windowed)
    assert problem.tour_length(windowed) == problem.tour_length(optimum)


def test_a_spent_budget_returns_the_best_tour():
    problem = circle()
    optimum = np.arange(problem.n)
    a, b = reversed_at(optimum, 5, 20), reversed_at(optimum, 14, 31)
    out = union_tour(problem, [b, a], budget_s=0.0)
    assert edges(out) == edges(min((a, b), key=problem.tour_length))


def test_solver_chatter_on_stdout_is_silenced(capfd):
    with quiet_stdout():
        os.write(1, b"HighsMipSolverData::transformNewIntegerFeasibleSolution\n")
    print("ours")
    assert capfd.readouterr().out == "ours\n"


def test_identical_tours_come_back_as_they_are():
    problem = circle(30)
    tour = reversed_at(np.arange(30), 4, 9)
    out = union_tour(problem, [tour, np.roll(tour, 5), tour[::-1].copy()], budget_s=0.5)
    assert edges(out) == edges(tour)


def test_a_union_unit_merges_its_pool_and_needs_one():
    problem = circle()
    optimum = np.arange(problem.n)
    pool = [reversed_at(optimum, 5, 20), reversed_at(optimum, 14, 31)]
    spec = UnitSpec("r1-u0", "union", seed=4, budget_s=1.0)
    result = run_unit(problem, spec, pool=pool)
    assert result.kind == "union" and result.engine == "highs"
    assert result.length == problem.tour_length(optimum)
    with pytest.raises(ValueError, match="needs a pool"):
        run_unit(problem, spec)
