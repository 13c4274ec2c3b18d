"""The round loop's decisions, one object for both backends: plan a round, apply its results,
decide whether to stop.

The embedded engine runs units on a local process pool and calls it in a blocking loop; the
cluster driver runs them as a Celery chord and calls it step by step, with the loop's state
persisted in Redis. Running and persisting stay in the backends; what to do next lives here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tsp_celery.plan.planner import plan_round, worth_a_round
from tsp_celery.plan.round_plan import PlanInput, RoundPlan
from tsp_celery.plan.stop import SearchState, StoppingCriterion
from tsp_celery.problem import Problem
from tsp_celery.solver import PIECE_KINDS, WHOLE_KINDS, UnitResult, apply_results


@dataclass
class RoundLoop:
    """One job's round loop: ``plan`` the next round, apply its results (``merged_tour``),
    ``close`` it, then ``stop_reason``. ``stop`` holds the job's criteria (see plan.stop)."""

    n: int
    seed: int
    stop: StoppingCriterion
    matrix_budget_bytes: int
    merge: bool = True
    threads_per_unit_allowed: bool = False
    round_no: int = 0  # the next round to plan
    last_kind: str = ""  # the kind of the round closed last ('' after a failover: harmless)
    stall_rounds: int = 0  # closed rounds in a row without a shorter tour

    def __post_init__(self) -> None:
        if self.stop.time_limit is None:
            raise ValueError("Expected a MaxRuntime among the stopping criteria.")

    @property
    def time_s(self) -> float:
        return float(self.stop.time_limit or 0.0)

    def remaining_s(self, elapsed_s: float) -> float:
        return max(0.0, self.time_s - elapsed_s)

    def plan_input(self, *, slots: int, elapsed_s: float, has_tour: bool, pool_size: int = 0,
                   active_jobs: int = 1) -> PlanInput:
        return PlanInput(
            n=self.n, slots=slots, remaining_s=self.remaining_s(elapsed_s),
            round_no=self.round_no, seed=self.seed, active_jobs=active_jobs, has_tour=has_tour,
            matrix_budget_bytes=self.matrix_budget_bytes, last_improved=self.stall_rounds == 0,
            threads_per_unit_allowed=self.threads_per_unit_allowed, pooled=self.merge,
            pool_size=pool_size if self.merge else 0, last_kind=self.last_kind,
        )

    def plan(self, inp: PlanInput) -> RoundPlan:
        """The next round; the loop moves on to the one after it."""
        plan = plan_round(inp)
        self.round_no = plan.round_no + 1
        return plan

    def close(self, kind: str, improved: bool) -> None:
        """Note a closed round (the cluster reads ``stall_rounds`` back from its record)."""
        self.last_kind = kind
        self.stall_rounds = 0 if improved else self.stall_rounds + 1

    def stop_reason(self, state: SearchState, *, slots: int, has_tour: bool,
                    active_jobs: int = 1, pool_size: int = 0) -> str | None:
        """Why the job ends after this round: a criterion, or too little time for another
        (``pool_size``: the elite pool as the round left it)."""
        reason = self.stop.reason(state)
        if reason is not None:
            return reason
        inp = self.plan_input(slots=max(slots, 1), elapsed_s=state.elapsed_s, has_tour=has_tour,
                              pool_size=pool_size, active_jobs=active_jobs)
        return None if worth_a_round(inp) else "time budget used"


def pooled(kind: str, merge: bool) -> bool:
    """Whether a round of ``kind`` merges with (and then feeds) the elite pool."""
    return merge and kind in WHOLE_KINDS


def merged_tour(problem: Problem, plan: RoundPlan, base: np.ndarray | None,
                results: Sequence[UnitResult], elite: Sequence[np.ndarray],
                merge: bool) -> np.ndarray:
    """A round's results applied to ``base`` (merged with the pool, or spliced), validated.

    Without a base (the first island round) the shortest run is the base the others merge into;
    a piece round without one is an error."""
    if base is None:
        if plan.kind in PIECE_KINDS:
            raise ValueError(f"{plan.kind} round without a base tour")
        base = min(results, key=lambda r: r.length).tour
    elite = list(elite) if pooled(plan.kind, merge) else []
    return problem.validate_tour(
        apply_results(problem, base, list(results), elite=elite, merge=merge))


def pool_candidates(plan: RoundPlan, results: Sequence[UnitResult], tour: np.ndarray,
                    merge: bool) -> list[np.ndarray]:
    """The tours a closed round offers the elite pool (none when it does not feed it)."""
    return [r.tour for r in results] + [tour] if pooled(plan.kind, merge) else []


def proves_optimal(results: Sequence[UnitResult], length: float) -> bool:
    """A whole-tour unit proved a tour of ``length`` optimal (exact units, n <= 16)."""
    return any(r.proven_optimal and r.kind not in PIECE_KINDS and r.length <= length
               for r in results)


def meets_bound(length: float, bound: float | None, proven: bool, integral: bool) -> bool:
    """A tour as short as a proven lower bound allows is optimal (integral lengths: the bound
    rounded up)."""
    if bound is None or not proven:
        return False
    return length <= (math.ceil(bound - 1e-9) if integral else bound)
