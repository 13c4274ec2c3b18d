"""The certified bound in the solve path: a proof stops an embedded search and says so."""

from __future__ import annotations

import pytest

from tsp_celery.local import solve_local
from tsp_celery.problem import Problem, load_problem
from tsp_celery.solver.certify import (
    METHOD_BRANCH_AND_CUT,
    certifiable,
    certified_bound,
    certify_budget,
)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_embedded_solve_proves_kroa100_optimal_and_stops_early(data_dir):
    # the Held-Karp bound alone ends 1.6 % below kroA100's optimum: only the LP proves it
    problem = load_problem(data_dir / "kroA100.tsp")
    result = solve_local(problem, time_s=60, workers=2, seed=1)
    assert result.proven_optimal
    assert result.length == 21282 and result.lower_bound == 21282
    assert result.lower_bound_proven
    assert result.elapsed < 55


def test_fractional_instances_keep_held_karp(make_problem):
    integral = make_problem(30)
    assert certifiable(integral)
    assert certify_budget(integral, 2.5, 10.0) == pytest.approx(9.5)
    fractional = Problem.from_matrix(integral.submatrix() + 0.25)
    assert not certifiable(fractional)
    assert certify_budget(fractional, 2.5, 10.0) == 2.5
    lb = certified_bound(fractional, 1.0)
    assert lb.proven and lb.method != METHOD_BRANCH_AND_CUT


def test_only_likely_proofs_take_the_whole_budget(make_problem):
    assert certify_budget(make_problem(1000), 3.0, 60.0) == 3.0
    rat783_sized = make_problem(783)   # proven in 31-46 s since the root's comb cuts
    assert certify_budget(rat783_sized, 3.0, 60.0) == pytest.approx(57.0)
    assert certify_budget(rat783_sized, 3.0, 10.0) == 3.0



@pytest.mark.timeout(60)
def test_the_lp_bound_runs_beyond_the_proof_size(data_dir, monkeypatch):
    # kroA100 as an instance too large to prove or to list its pairs: the LP still lifts its
    # bound above Held-Karp's (1.6 % short), and never past the optimum
    from tsp_celery.solver import branch, certify
    monkeypatch.setattr(certify, "CERTIFY_MAX_N", 10)
    monkeypatch.setattr(branch, "LISTED_MAX_N", 10)
    problem = load_problem(data_dir / "kroA100.tsp")
    assert not certifiable(problem)
    lb = certified_bound(problem, 5.0)
    assert lb.proven and lb.method == METHOD_BRANCH_AND_CUT
    assert lb.value <= 21282
