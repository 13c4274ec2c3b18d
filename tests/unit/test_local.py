"""The embedded engine end to end: proofs on tiny instances, optima on small ones, decomposition
on an instance beyond a (deliberately tiny) matrix budget, and its promises: a valid tour that
never gets longer, progress reports, early stops."""

from __future__ import annotations

import numpy as np
import pytest

from tsp_celery.local import solve_local
from tsp_celery.plan import StoppingCriterion
from tsp_celery.problem import Problem, generate, load_problem
from tsp_celery.solver import certify
from tsp_celery.solver.budget import matrix_bytes


def _check(problem, result):
    assert sorted(result.tour) == list(range(problem.n))
    assert result.length == problem.tour_length(result.tour)
    lengths = [v for _, v in result.trace]
    assert lengths == sorted(lengths, reverse=True) and len(set(lengths)) == len(lengths)
    assert lengths[-1] == result.length
    assert result.time_to_best <= result.elapsed


@pytest.mark.timeout(30)
def test_burma14_is_proven_optimal(examples_dir):
    problem = load_problem(examples_dir / "burma14.tsp")
    result = solve_local(problem, time_s=5, workers=2)
    _check(problem, result)
    assert result.length == 3323
    assert result.proven_optimal
    assert result.engine == "exact"


@pytest.mark.timeout(60)
def test_gr17_is_proven_optimal(examples_dir):
    problem = load_problem(examples_dir / "gr17.tsp")
    result = solve_local(problem, time_s=10, workers=2)
    _check(problem, result)
    assert result.length == 2085
    assert result.proven_optimal


@pytest.mark.timeout(60)
def test_berlin52_reaches_its_optimum_with_a_bound_beside(examples_dir):
    problem = load_problem(examples_dir / "berlin52.tsp")
    seen = []
    result = solve_local(problem, time_s=5, workers=2, seed=1, on_progress=seen.append)
    _check(problem, result)
    assert result.length == 7542
    assert result.stats["kinds"] == {"island": result.stats["rounds"]}
    assert result.lower_bound is not None and result.lower_bound <= 7542
    assert {p["event"] for p in seen} >= {"phase", "improved", "round"}
    assert seen[0]["event"] == "phase" and seen[0]["best_length"] is None  # before any tour
    with_tour = [p for p in seen if p["best_length"] is not None]
    assert all(p["best_length"] >= result.length for p in with_tour)
    assert seen[-1]["best_length"] == result.length


@pytest.mark.timeout(60)
def test_target_stops_the_search_early(examples_dir):
    problem = load_problem(examples_dir / "berlin52.tsp")
    result = solve_local(problem, time_s=40, workers=2, target=7542, bound=False)
    assert result.length == 7542
    assert result.elapsed < 20  # far less than the budget: it stopped once the target was met
    assert result.gap_pct == 0.0


@pytest.mark.timeout(90)
def test_decomposition_improves_the_initial_tour_beyond_the_matrix_budget():
    problem = generate("uniform", 2000, seed=5)
    budget = matrix_bytes(300)  # sub-problems of at most ~300 nodes; the full matrix won't fit
    result = solve_local(problem, time_s=8, workers=2, seed=3, matrix_budget_bytes=budget,
                         bound=False)
    _check(problem, result)
    assert result.stats["kinds"].get("segment", 0) >= 1
    assert "island" not in result.stats["kinds"]
    assert result.length < result.stats["initial_length"]
    assert result.trace[0][1] == result.stats["initial_length"]


@pytest.mark.timeout(90)
def test_a_partition_first_tour_reports_its_parts_as_they_are_solved():
    problem = generate("uniform", 2000, seed=6)
    seen: list[dict] = []
    result = solve_local(problem, time_s=6, workers=2, seed=1,
                         matrix_budget_bytes=matrix_bytes(700), bound=False,
                         on_progress=seen.append)
    _check(problem, result)
    parts = [e for e in seen if e["event"] == "initial"]
    assert [(e["parts_done"], e["parts"]) for e in parts] == [(1, 3), (2, 3), (3, 3)]
    assert all(e["best_length"] is None for e in parts)
    assert seen.index(parts[-1]) < min(i for i, e in enumerate(seen) if e["best_length"])


def test_bad_arguments(examples_dir):
    problem = load_problem(examples_dir / "burma14.tsp")
    with pytest.raises(ValueError, match="time_s"):
        solve_local(problem, time_s=0)
    with pytest.raises(ValueError, match="workers"):
        solve_local(problem, workers=-1)


@pytest.mark.timeout(60)
def test_same_result_shape_for_float_coordinates():
    rng = np.random.default_rng(0)
    from tsp_celery.problem import Problem

    problem = Problem.from_coords(rng.random((40, 2)))
    result = solve_local(problem, time_s=2, workers=1)
    _check(problem, result)
    assert isinstance(result.length, float)
    assert not result.proven_optimal  # float lengths are never proven equal to a bound


@pytest.mark.timeout(30)
@pytest.mark.parametrize("merge", [True, False])
def test_island_rounds_merge_with_the_elite_pool_unless_told_not_to(monkeypatch, merge):
    import tsp_celery.plan.round_loop as round_loop

    problem = generate("uniform", 200, seed=4)
    calls = []
    real = round_loop.apply_results

    def recording(problem_, base, results, *, elite=(), merge=True):
        calls.append(([problem_.tour_length(t) for t in elite], merge))
        return real(problem_, base, results, elite=elite, merge=merge)

    monkeypatch.setattr(round_loop, "apply_results", recording)
    result = solve_local(problem, time_s=3, workers=2, seed=1, bound=False, merge=merge)
    _check(problem, result)
    assert len(calls) >= 2 and all(m is merge for _, m in calls)
    pools = [pool for pool, _ in calls[1:]]
    if merge:  # from the second round on, the pool holds the best tours so far, shortest first
        assert all(pool and pool == sorted(pool) for pool in pools)
        assert min(min(pool) for pool in pools) >= result.length
    else:
        assert not any(pools)
        assert set(result.stats["unit_kinds"]) == {"island"}


@pytest.mark.timeout(90)
def test_union_units_merge_the_pool_once_it_holds_distinct_tours(monkeypatch):
    import tsp_celery.plan.planner as planner
    import tsp_celery.plan.round_loop as round_loop

    # half-second runs on 1,000 nodes: every run ends somewhere else, so the pool fills at once
    monkeypatch.setattr(planner, "ISLAND_S_PER_NODE", 0.0)
    monkeypatch.setattr(planner, "ISLAND_S_PER_NODE2", 0.0)
    plans = []  # (pool size the planner saw, kinds it planned), round by round

    def recording_plan_round(inp):
        plan = planner.plan_round(inp)
        plans.append((inp.pool_size, [u.kind for u in plan.units]))
        return plan

    monkeypatch.setattr(round_loop, "plan_round", recording_plan_round)
    rounds = planner.UNION_EVERY + 1  # round UNION_EVERY is the first to hold a union unit

    class AfterRounds(StoppingCriterion):  # a round count, not the clock: under load a short
        def reason(self, state):          # budget would end before a union
            return "enough rounds" if len(plans) >= rounds else None

    after_rounds = AfterRounds()

    problem = generate("uniform", 1000, seed=2)
    result = solve_local(problem, time_s=120, workers=2, seed=1, bound=False, stop=after_rounds)
    _check(problem, result)
    assert len(plans) == rounds
    assert set(plans[0][1]) == {"island"}  # the pool starts empty: islands fill it
    assert all(size >= planner.UNION_MIN_TOURS for size, kinds in plans if "union" in kinds)
    assert "union" in plans[-1][1]
    assert result.stats["unit_kinds"]["union"] >= 1
    assert result.stats["units_failed"] == 0


@pytest.mark.timeout(90)
def test_a_multi_thread_job_closes_with_a_union_round_over_its_restarts(monkeypatch):
    import tsp_celery.plan.planner as planner
    import tsp_celery.plan.round_loop as round_loop

    # one-second restarts and a 1.6 s closing union round on 3,000 nodes (n >= MULTI_THREAD_MIN_N)
    monkeypatch.setattr(planner, "MULTI_S_PER_SQRT_NODE", 0.02)
    monkeypatch.setattr(planner, "MULTI_UNION_S_PER_SQRT_NODE", 0.03)
    plans = []  # (threads of each unit, kinds), round by round

    def recording_plan_round(inp):
        plan = planner.plan_round(inp)
        plans.append([(u.kind, u.threads) for u in plan.units])
        return plan

    monkeypatch.setattr(round_loop, "plan_round", recording_plan_round)
    problem = generate("uniform", planner.MULTI_THREAD_MIN_N, seed=3)
    result = solve_local(problem, time_s=8, workers=2, seed=1, bound=False)
    _check(problem, result)
    assert plans[0] == [("island", 2)]  # restarts with both threads first
    assert [("union", 1), ("union", 1)] in plans  # then union units, one per worker
    first_union = plans.index([("union", 1), ("union", 1)])
    assert all(kinds == [("island", 2)] for kinds in plans[:first_union])
    assert result.stats["units_failed"] == 0


@pytest.fixture
def bound_budgets(monkeypatch) -> list[float]:
    """The budgets solve_local gives its bound process (which is replaced by a recorder)."""
    import tsp_celery.local as local

    budgets: list[float] = []

    class Recorder:
        error = None

        def __init__(self, problem, budget_s, upper, method, nice=0):
            budgets.append(budget_s)

        def poll(self, timeout=0.0):
            return None

        def close(self):
            pass

    monkeypatch.setattr(local, "BoundProcess", Recorder)
    return budgets


@pytest.mark.timeout(30)
def test_the_bound_gets_a_short_budget_on_a_long_solve(bound_budgets, examples_dir):
    # fractional distances: no branch-and-cut proof, which would get the whole budget instead
    problem = Problem.from_matrix(load_problem(examples_dir / "berlin52.tsp").submatrix() + 0.25)
    solve_local(problem, time_s=100, workers=1, seed=0, target=7542 + 52 * 0.25)
    # a quarter of 100 s would be 25 s; the bound converges in a few seconds at this size
    assert bound_budgets == [pytest.approx(certify.BOUND_BASE_S + certify.BOUND_S_PER_NODE * 52)]


@pytest.mark.timeout(30)
def test_a_likely_proof_gets_nearly_the_whole_budget(bound_budgets, examples_dir):
    # the bound process ends by itself once it proves the optimum, so the budget is a ceiling
    solve_local(load_problem(examples_dir / "berlin52.tsp"), time_s=100, workers=1, target=7542)
    assert bound_budgets == [pytest.approx(95.0)]


def test_the_bound_yields_to_the_search_only_where_it_cannot_stop_it():
    from tsp_celery.local import BOUND_NICE, bound_niceness
    from tsp_celery.solver.certify import CERTIFY_MAX_N

    big = CERTIFY_MAX_N + 1
    assert bound_niceness(big, workers=2, cores=2) == BOUND_NICE > 0
    assert bound_niceness(big, workers=1, cores=2) == 0  # a spare core: full speed
    assert bound_niceness(CERTIFY_MAX_N, workers=2, cores=2) == 0  # a proof may end the job


@pytest.mark.timeout(30)
def test_the_bound_process_runs_at_the_niceness_asked_for():
    import os
    import time

    from tsp_celery.local_workers import BoundProcess, start_method

    problem = generate("uniform", 3000, 1)  # a bound that takes seconds
    expected = min(os.getpriority(os.PRIO_PROCESS, 0) + 7, 19)
    bound = BoundProcess(problem, 3.0, None, start_method(), nice=7)
    try:
        seen, deadline = None, time.monotonic() + 10
        while seen != expected and time.monotonic() < deadline:
            seen = os.getpriority(os.PRIO_PROCESS, bound._proc.pid)
            time.sleep(0.01)
        assert seen == expected
        assert bound.poll(timeout=10.0) is not None  # and it still delivers a bound
    finally:
        bound.close()


@pytest.mark.timeout(10)
def test_a_multi_thread_job_beyond_the_default_budget_gets_its_whole_matrix(monkeypatch):
    """d18512-sized: fast-tsp alone runs it whole, so an unconfigured embedded job does too
    when the memory is free and the budget long; a configured or given budget, one worker, a
    larger instance, a short budget or too little free memory keep the budget as it was."""
    from tsp_celery import local
    from tsp_celery.settings import DEFAULT_MATRIX_BUDGET_MB

    monkeypatch.delenv("TSP_CELERY_MATRIX_BUDGET_MB", raising=False)
    monkeypatch.setattr(local, "start_method", lambda: "fork")
    monkeypatch.setattr(local, "_free_memory_bytes", lambda: 16 * 2**30)
    default, whole = DEFAULT_MATRIX_BUDGET_MB * 2**20, local.WHOLE_MATRIX_MAX_MB * 2**20
    assert local.job_matrix_budget(18512, 2, 60) == whole
    assert matrix_bytes(18512) <= whole
    assert local.job_matrix_budget(18512, 2, 10) == default  # too short for its matrix
    assert local.job_matrix_budget(5000, 2, 60) == default  # the default fits it already
    assert local.job_matrix_budget(18512, 1, 60) == default  # no multi-thread job
    assert local.job_matrix_budget(33810, 2, 600) == default  # beyond the larger budget too
    assert local.job_matrix_budget(18512, 2, 60, 2**28) == 2**28
    monkeypatch.setattr(local, "_free_memory_bytes", lambda: 2 * 2**30)
    assert local.job_matrix_budget(18512, 2, 60) == default
    monkeypatch.setattr(local, "_free_memory_bytes", lambda: 16 * 2**30)
    monkeypatch.setenv("TSP_CELERY_MATRIX_BUDGET_MB", str(DEFAULT_MATRIX_BUDGET_MB))
    assert local.job_matrix_budget(18512, 2, 60) == default
