"""The embedded engine: the planner's rounds on a local process pool, no Redis needed.

Each round the planner says what to run (exact, island or segment units); the pool runs the
units, ``apply_results`` merges or splices what came back, and the best tour so far is kept
(it never gets longer). A Held–Karp lower bound runs in its own process beside the search: it
fills ``lower_bound`` and lets an integral search stop once its tour meets the rounded-up bound.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from concurrent.futures import wait
from typing import Any

import numpy as np

from tsp_celery.local_workers import BoundProcess, UnitPool, start_method
from tsp_celery.plan import MaxRuntime, RoundLoop, RoundPlan, SearchState, TargetLength
from tsp_celery.plan.first_tour import needs_first_tour
from tsp_celery.plan.planner import EXACT_MAX_N, initial_partition_s, multi_thread_job
from tsp_celery.plan.round_loop import (
    meets_bound,
    merged_tour,
    pool_candidates,
    pooled,
    proves_optimal,
)
from tsp_celery.plan.stop import StoppingCriterion
from tsp_celery.problem import Problem
from tsp_celery.result import Result
from tsp_celery.settings import Settings, is_configured
from tsp_celery.solver import (
    PIECE_KINDS,
    UnitResult,
    default_polish_s,
    initial_tour,
    run_unit,
    update_elite,
)
from tsp_celery.solver.budget import fits_matrix_budget, matrix_bytes
from tsp_celery.solver.certify import CERTIFY_MAX_N, bound_budget_s
from tsp_celery.solver.matrix import drop_whole_matrix, whole_matrix

log = logging.getLogger(__name__)

ProgressCallback = Callable[[dict[str, Any]], None]
# Where no proof can stop the search (beyond certify.CERTIFY_MAX_N nodes) and no core is spare
# (as many workers as cores), the bound runs at this niceness: it then takes the CPU the
# search leaves, instead of a core from it (rl5934 at --time 10: 1.6 of the search's 18.6
# core-seconds at the same priority).
BOUND_NICE = 10
# Without a configured matrix budget (TSP_CELERY_MATRIX_BUDGET_MB, ``matrix_budget_bytes``), a
# multi-thread job (``multi_thread_job``, forked pool) may build its whole-instance matrix up to
# WHOLE_MATRIX_MAX_MB, as fast-tsp alone would: the job holds that one matrix for all its slots,
# and every TSPLIB size up to 20,000 nodes then runs whole instead of decomposed (d18512 at
# --time 60: docs/performance.md, "Quality per budget"). Only while the matrix takes at most
# WHOLE_MATRIX_MEMORY_SHARE of the memory free at the start, and with at least
# WHOLE_MATRIX_MIN_S_PER_NODE seconds per node: at --time 10, d18512's matrix left fast-tsp too
# little time under load (1.3-24 % above the optimum, decomposed 2.5-8 %).
WHOLE_MATRIX_MAX_MB = 2048
WHOLE_MATRIX_MEMORY_SHARE = 0.5
WHOLE_MATRIX_MIN_S_PER_NODE = 0.002
# The matrix-free first tour of a large instance may spend this share of the budget polishing
# (greedy's long joins are what decomposition cannot remove).
POLISH_SHARE = 0.3


class _Clock:
    """Seconds since the solve started (the budget's clock)."""

    def __init__(self, time_s: float) -> None:
        self.time_s = time_s
        self._start = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self._start

    def remaining(self) -> float:
        return max(0.0, self.time_s - self.elapsed())


class _Best:
    """The incumbent: best tour, its length, when it was found, and the trace of improvements."""

    def __init__(self, problem: Problem, clock: _Clock, on_progress: ProgressCallback | None):
        self.problem, self.clock, self.on_progress = problem, clock, on_progress
        self.tour: np.ndarray | None = None
        self.length = math.inf
        self.time_to_best = 0.0
        self.trace: list[tuple[float, float]] = []
        self.engines: set[str] = set()
        self.lower_bound: dict[str, Any] | None = None

    def offer(self, tour: np.ndarray, engines: set[str], round_no: int | None = None) -> bool:
        """Take ``tour`` if it is valid and strictly shorter; report the improvement."""
        tour = self.problem.validate_tour(tour)
        length = self.problem.tour_length(tour)
        if length >= self.length:
            return False
        self.tour, self.length = tour, length
        self.time_to_best = self.clock.elapsed()
        self.trace.append((self.time_to_best, float(length)))
        self.engines |= engines
        self.report("improved", round_no)
        return True

    def report(self, event: str, round_no: int | None = None) -> None:
        if self.tour is not None:
            self._emit(event, round_no)

    def report_phase(self, phase: str, round_no: int | None = None) -> None:
        """What the engine does now (also before any tour exists), for a live progress line."""
        self._emit("phase", round_no, phase=phase)

    def report_part(self, done: int, total: int) -> None:
        """Progress of a partition first tour, which may take half the budget."""
        self._emit("initial", None, parts_done=done, parts=total)

    def _emit(self, event: str, round_no: int | None, **extra: Any) -> None:
        if self.on_progress is None:
            return
        lb = self.lower_bound
        self.on_progress({
            "event": event,
            "best_length": None if self.tour is None else self.length,
            "elapsed": self.clock.elapsed(),
            "round": round_no,
            "lower_bound": None if lb is None else lb["value"],
            "lower_bound_proven": bool(lb and lb["proven"]),
            **extra,
        })

    def meets_bound(self) -> bool:
        """True when an integral tour is as short as a proven bound allows: it is optimal."""
        lb = self.lower_bound
        return bool(lb) and self.problem.is_integral and meets_bound(
            self.length, lb["value"], lb["proven"], integral=True)


def solve_local(
    problem: Problem,
    time_s: float = 10.0,
    workers: int | None = None,
    seed: int = 0,
    target: float | None = None,
    on_progress: ProgressCallback | None = None,
    *,
    matrix_budget_bytes: int | None = None,
    bound: bool = True,
    stop: StoppingCriterion | None = None,
    merge: bool = True,
) -> Result:
    """Solve ``problem`` on this machine within about ``time_s`` seconds.

    ``workers`` processes search (default: all cores); ``target`` stops the search once a tour
    that short is found and is reported as the optimum; ``on_progress`` receives a dict
    (event, best_length, elapsed, round, lower_bound) on every improvement and every round;
    ``stop`` adds a stopping criterion (see ``tsp_celery.plan.stop``); ``merge=False`` keeps
    each round's shortest run instead of merging it with the elite pool. Ctrl-C ends the search
    early and returns the best tour so far.
    """
    if time_s <= 0:
        raise ValueError(f"Expected time_s > 0, got {time_s}.")
    if workers is None:
        workers = os.cpu_count() or 1
    if workers < 1:
        raise ValueError(f"Expected workers >= 1, got {workers}.")
    budget = job_matrix_budget(problem.n, workers, time_s, matrix_budget_bytes)
    criteria: StoppingCriterion = MaxRuntime(time_s)
    if target is not None:
        criteria = TargetLength(target) | criteria
    if stop is not None:
        criteria = criteria | stop
    clock = _Clock(criteria.time_limit or time_s)
    best = _Best(problem, clock, on_progress)
    stats: dict[str, Any] = {"rounds": 0, "units": 0, "units_failed": 0, "units_late": 0,
                             "workers": workers, "kinds": {}, "unit_kinds": {}}
    proven = False
    if problem.n <= EXACT_MAX_N:
        proven = _solve_exact(problem, clock, seed, best, stats)
    else:
        loop = RoundLoop(problem.n, seed, criteria, budget, merge, threads_per_unit_allowed=True)
        proven = _search(problem, clock, workers, target, bound, loop, best, stats)
    assert best.tour is not None
    proven = proven or best.meets_bound()  # a bound that arrived as the search ended
    lb = best.lower_bound
    return Result(
        tour=best.tour, length=best.length, proven_optimal=proven,
        time_to_best=best.time_to_best, elapsed=clock.elapsed(),
        engine="+".join(sorted(best.engines)), seed=seed, trace=best.trace,
        lower_bound=None if lb is None else lb["value"],
        lower_bound_proven=bool(lb and lb["proven"]),
        optimum=target, name=problem.name, stats=stats,
    )


def job_matrix_budget(n: int, workers: int, time_s: float,
                      matrix_budget_bytes: int | None = None) -> int:
    """An embedded job's matrix budget: ``matrix_budget_bytes`` or the configured one; unless
    configured, up to WHOLE_MATRIX_MAX_MB for a multi-thread job of ``time_s`` seconds whose
    one whole-instance matrix is beyond the configured budget but fits that and the free
    memory (see WHOLE_MATRIX_MAX_MB)."""
    if matrix_budget_bytes:
        return matrix_budget_bytes
    default = Settings.from_env().matrix_budget_bytes
    whole = WHOLE_MATRIX_MAX_MB * 1024 * 1024
    if (is_configured("matrix_budget_mb") or fits_matrix_budget(n, default)
            or start_method() != "fork" or not multi_thread_job(n, workers, whole)
            or time_s < WHOLE_MATRIX_MIN_S_PER_NODE * n
            or matrix_bytes(n) > WHOLE_MATRIX_MEMORY_SHARE * _free_memory_bytes()):
        return default
    return whole


def _free_memory_bytes() -> int:
    """Physical memory free now (0 where the system does not say: no larger matrix then)."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0


def _solve_exact(problem: Problem, clock: _Clock, seed: int, best: _Best,
                 stats: dict[str, Any]) -> bool:
    """n <= 16: Held–Karp in this process; no pool is worth its start-up time."""
    loop = RoundLoop(problem.n, seed, MaxRuntime(clock.time_s), 1)
    plan = loop.plan(loop.plan_input(slots=1, elapsed_s=clock.elapsed(), has_tour=False))
    best.report_phase("solving exactly (Held–Karp)", 0)
    result = run_unit(problem, plan.units[0])
    best.offer(result.tour, {result.engine}, 0)
    _count(stats, plan, [result])
    best.report("round", 0)
    return result.proven_optimal


def _search(problem: Problem, clock: _Clock, workers: int, target: float | None,
            with_bound: bool, loop: RoundLoop, best: _Best, stats: dict[str, Any]) -> bool:
    """Rounds on the pool until a criterion stops them or the tour meets a proven bound."""
    method = start_method()
    bound = None
    bound_s = bound_budget_s(problem, clock.time_s) if with_bound else None
    if bound_s is not None:  # before the pool, which starts a thread
        bound = BoundProcess(problem, bound_s, target, method,
                             nice=bound_niceness(problem.n, workers, os.cpu_count() or 1))
    if method == "fork" and multi_thread_job(problem.n, workers, loop.matrix_budget_bytes):
        # the restarts share one matrix: built once with every core, before the pool forks
        # (spawned workers could not share it: each builds its own on its first restart)
        best.report_phase("building the distance matrix")
        whole_matrix(problem, threads=workers)
    best.report_phase(f"starting {workers} worker process{'es' if workers > 1 else ''}")
    pool = UnitPool(problem, workers, loop.matrix_budget_bytes, method)
    try:
        if needs_first_tour(problem.n, loop.matrix_budget_bytes):
            _first_tour(problem, clock, workers, loop, best, stats)
        pool.wait_ready()
        elite: list[np.ndarray] = []
        while True:
            plan = loop.plan(loop.plan_input(slots=workers, elapsed_s=clock.elapsed(),
                                             has_tour=best.tour is not None,
                                             pool_size=len(elite)))
            # Without any tour yet there is nothing to fall back on: wait for the units (they
            # stop by themselves) instead of closing the round at its deadline.
            deadline = plan.deadline_s if best.tour is not None else None
            best.report_phase(_round_phase(plan), plan.round_no)
            results = _run_round(pool, plan, best.tour, elite, deadline, stats)
            improved = _apply(problem, loop, plan, best, results, elite)
            loop.close(plan.kind, improved)
            if pooled(plan.kind, loop.merge):
                elite = update_elite(problem, elite,
                                     pool_candidates(plan, results, best.tour, loop.merge))
            _count(stats, plan, results)
            if bound is not None:
                best.lower_bound = bound.poll()
            log.info("round %d: %d of %d %s units back, best %s after %.1f s", plan.round_no,
                     len(results), len(plan.units), plan.kind, best.length, clock.elapsed())
            best.report("round", plan.round_no)
            if best.meets_bound() or proves_optimal(results, best.length):
                return True
            state = SearchState(clock.elapsed(), best.length, loop.stall_rounds)
            if loop.stop_reason(state, slots=workers, has_tour=best.tour is not None,
                                pool_size=len(elite)):
                return False
    except KeyboardInterrupt:
        if best.tour is None:
            raise
        stats["interrupted"] = True
        return False
    finally:
        pool.close()
        drop_whole_matrix()
        if bound is not None:
            best.lower_bound = bound.poll(timeout=0.2 if best.lower_bound is None else 0.0)
            bound.close()
            if bound.error:
                log.warning("lower bound failed: %s", bound.error)


def _first_tour(problem: Problem, clock: _Clock, workers: int, loop: RoundLoop, best: _Best,
                stats: dict[str, Any]) -> None:
    """Beyond the matrix budget: the first tour from a spatial partition (or greedy)."""
    best.report_phase("first tour: partitioning")
    t0 = clock.elapsed()
    polish_s = min(default_polish_s(problem.n), POLISH_SHARE * clock.time_s)
    tour = initial_tour(problem, loop.seed, matrix_budget_bytes=loop.matrix_budget_bytes,
                        polish_s=polish_s, partition_s=initial_partition_s(clock.remaining()),
                        threads=workers, on_part=best.report_part)
    best.offer(tour, {"initial"})
    stats["initial_length"], stats["initial_s"] = best.length, clock.elapsed() - t0


def bound_niceness(n: int, workers: int, cores: int) -> int:
    """The bound process's niceness: BOUND_NICE when it would take a core from the search and
    cannot prove anything that stops it (n > CERTIFY_MAX_N), else 0."""
    return BOUND_NICE if workers >= cores and n > CERTIFY_MAX_N else 0


def _round_phase(plan: RoundPlan) -> str:
    """'round 3 running: 2 island units' (segment rounds: '... 40 segment units')."""
    units = len(plan.units)
    return f"round {plan.round_no} running: {units} {plan.kind} unit{'s' if units > 1 else ''}"


def _run_round(pool: UnitPool, plan: RoundPlan, base: np.ndarray | None,
               elite: list[np.ndarray], deadline_s: float | None,
               stats: dict[str, Any]) -> list[UnitResult]:
    """Submit the round's units (a union unit gets the elite pool); collect what finished by
    ``deadline_s`` (None: all)."""
    pieces = plan.kind in PIECE_KINDS
    futures = [pool.submit(u.to_dict(), base if pieces else None,
                           elite if u.kind == "union" else ())
               for u in plan.units]
    done, late = wait(futures, timeout=deadline_s, return_when="ALL_COMPLETED")
    stats["units_late"] += len(late)
    results = []
    for f in done:
        exc = f.exception()
        if exc is None:
            results.append(f.result())
        else:
            stats["units_failed"] += 1
            log.warning("unit failed: %s: %s", type(exc).__name__, exc)
    if not results and len(done) == len(futures):
        raise next(f.exception() for f in done if f.exception() is not None)
    return results


def _apply(problem: Problem, loop: RoundLoop, plan: RoundPlan, best: _Best,
           results: list[UnitResult], elite: list[np.ndarray]) -> bool:
    """Merge (with the elite pool) or splice the round's results into the incumbent; True
    when it got shorter."""
    if not results:
        return False
    tour = merged_tour(problem, plan, best.tour, results, elite, loop.merge)
    return best.offer(tour, {r.engine for r in results}, plan.round_no)


def _count(stats: dict[str, Any], plan: RoundPlan, results: list[UnitResult]) -> None:
    stats["rounds"] += 1
    stats["units"] += len(results)
    stats["kinds"][plan.kind] = stats["kinds"].get(plan.kind, 0) + 1
    for r in results:
        stats["unit_kinds"][r.kind] = stats["unit_kinds"].get(r.kind, 0) + 1
