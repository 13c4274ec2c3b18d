"""One active job, driven round by round without blocking: each ``step`` does what is due now.

Per step: if a round is in flight, see whether it was merged, or close it at its deadline (or at
once on cancel) with what arrived; between rounds, check the stop criteria and plan the next
round (or, for an instance beyond the matrix budget, have a worker build the first tour).
Every write is fenced with the leader's lease value; all state lives in Redis, so a successor
rebuilds the same driver with ``JobDriver.resume``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, replace

from tsp_celery import metrics
from tsp_celery.cluster.cache import ProblemCache
from tsp_celery.cluster.celery_config import MAX_UNIT_BUDGET_S
from tsp_celery.cluster.dispatch import Dispatcher
from tsp_celery.cluster.events import EventLog, EventType
from tsp_celery.cluster.fencing import Fencing
from tsp_celery.cluster.job import JobParams, JobStatus, parse_record
from tsp_celery.cluster.lamport import LamportClock
from tsp_celery.cluster.store import JobStore
from tsp_celery.cluster.worker_watch import WorkerWatch
from tsp_celery.errors import JobNotFoundError
from tsp_celery.plan import RoundLoop, RoundPlan, SearchState
from tsp_celery.plan.first_tour import needs_first_tour, plan_first_tour
from tsp_celery.plan.planner import MIN_UNIT_S
from tsp_celery.plan.round_loop import meets_bound
from tsp_celery.problem import Problem
from tsp_celery.settings import Settings

log = logging.getLogger(__name__)

# Time for the chord body to run after the round's own deadline before the coordinator closes
# the round itself.
MERGE_GRACE_S = 1.5
# A job whose units all failed in this many rounds in a row (nothing came back but errors: a
# corrupt stored instance, a unit no worker can run) stops with their error instead of retrying
# to the end of its budget.
FAILED_ROUNDS_LIMIT = 3
# Wait this long (plus the partition's time) for a worker to build the first tour of a large
# instance before asking again.
INITIAL_TOUR_WAIT_S = 120.0
# A job whose last round ends within this many seconds no longer counts against admission: the
# next job's first units wait in the queue for the slots about to free, instead of the slots
# idling through the merge, the stop decision and the next dispatch.
EARLY_ADMIT_S = 1.0
# A job whose units have at most this budget (the first rounds of a small instance) holds its
# slots so briefly that it counts as winding down: the next jobs' units queue behind its own,
# and the slots never idle through its merge and its next dispatch.
SHORT_ROUND_S = 0.25
# Rounds of instances up to this size are closed by the leader itself as soon as all their
# units reported (it is woken by their events), and sent without a chord: merging them costs
# milliseconds, less than publishing a merge task, waiting for a worker to take it and being
# told it ran. Larger rounds keep the chord body, on a worker, off the leader's loop.
LEADER_MERGE_MAX_N = 500


@dataclass(frozen=True)
class DriverServices:
    """What a job driver (and recovery) works with, handed over by the coordinator."""

    store: JobStore
    problems: ProblemCache
    events: EventLog
    clock: LamportClock
    dispatcher: Dispatcher
    fencing: Fencing
    workers: WorkerWatch
    settings: Settings
    active_jobs: Callable[[], int]  # how many jobs this leader drives (fair share)
    # closes a round on the leader's merge thread: (problem, job id, plan, fence, closer)
    close_round: Callable[[Problem, str, RoundPlan, str, str], Future]


@dataclass
class InFlight:
    """The round being run: its plan, when it was planned and when to stop waiting for it
    (wall clock, shared by all coordinators)."""

    plan: RoundPlan
    deadline_at: float
    planned_at: float = 0.0
    slots: int = 1
    fence: str = ""  # the lease that planned it (its chord's merge is refused under another)
    planned_event: str = ""  # the stream id of its round_planned event ('' after a takeover)

    @property
    def expected_end(self) -> float:
        """When its units should be done: their budget, times the waves they need on the slots
        the round was planned for."""
        waves = math.ceil(len(self.plan.units) / max(self.slots, 1))
        return self.planned_at + waves * self.plan.budget_s


@dataclass(frozen=True)
class Polled:
    """What a step reads first, fetched for all jobs of a loop turn at once, as Redis returned
    it (parsed in the job's own step, so a corrupt record is that job's fault alone): the job
    hash (empty when there is none) and its open round's outcome (None while the round is open).
    """

    record: dict
    merged: bytes | None
    reported: int = 0  # units of the open round that stored a result (or a failure)
    pool: int = 0  # tours in the job's elite pool (the next round's plan reads it)


def poll_jobs(store: JobStore, open_rounds: Mapping[str, int]) -> dict[str, Polled]:
    """Every active job's record, open round and pool size (``open_rounds``: job id -> round
    number, 0 for none) in one pipelined round trip, instead of four round trips per job and
    loop turn."""
    if not open_rounds:
        return {}
    pipe = store.redis.pipeline(transaction=False)
    for job_id, round_no in open_rounds.items():
        pipe.hgetall(store.keys.job(job_id))
        pipe.hget(store.keys.job_rounds(job_id), f"{round_no}:merged")
        pipe.hlen(store.keys.job_units(job_id, round_no))
        pipe.zcard(store.keys.job_elite(job_id))
    replies = iter(pipe.execute())
    return {job_id: Polled(next(replies), next(replies), next(replies), next(replies))
            for job_id in open_rounds}


class JobDriver:
    """State machine of one running job, owned by the leader's coordinator loop."""

    def __init__(self, services: DriverServices, rec: dict) -> None:
        self.s = services
        self.job_id = rec["job_id"]
        self.params = JobParams.from_dict(rec["params"])
        self.n = rec["n"]
        self.instance = rec["instance"]
        self.admitted_at = rec.get("admitted_at") or time.time()
        self.round: InFlight | None = None
        self.closing: Future | None = None  # our close of the round in flight, while it runs
        self.loop = RoundLoop(self.n, self.params.seed, self.params.stop_criterion(),
                              services.settings.matrix_budget_bytes, self.params.merge,
                              round_no=rec.get("round", 0) + 1)
        self.initial_sent_at: float | None = None
        self.initial_wait_s = INITIAL_TOUR_WAIT_S
        self._problem: Problem | None = None  # kept for a small job only: see problem()
        self.failed_rounds = 0  # closed in a row with errors only (FAILED_ROUNDS_LIMIT)
        self.unit_error = ""  # the last such round's first unit error

    @classmethod
    def resume(cls, services: DriverServices, rec: dict) -> JobDriver:
        """Rebuild a driver from the record: an unmerged last round is awaited to its deadline."""
        driver = cls(services, rec)
        last = rec.get("round", 0)
        if last:
            record = services.store.round_plan(driver.job_id, last)
            if record and services.store.round_merged(driver.job_id, last) is None:
                driver.round = InFlight(RoundPlan.from_dict(record["plan"]),
                                        float(record["deadline_at"]),
                                        float(record.get("planned_at", 0.0)),
                                        int(record.get("slots", 1)), record.get("fence", ""))
        return driver

    # -- the step ---------------------------------------------------------------------------------
    @property
    def leader_merges(self) -> bool:
        """Whether this job's rounds are closed by the leader (see LEADER_MERGE_MAX_N)."""
        return self.n <= LEADER_MERGE_MAX_N

    def problem(self) -> Problem:
        """The job's instance. A small (leader-merged) job keeps it: the coordinator's cache
        holds a few instances, and many small jobs in flight would evict each other's at every
        round (a fetch and a decode per close)."""
        if self._problem is not None:
            return self._problem
        problem = self.s.problems.get(self.instance)
        if self.leader_merges:
            self._problem = problem
        return problem

    def open_round(self) -> int:
        """The round in flight (0 for none)."""
        return self.round.plan.round_no if self.round is not None else 0

    def step(self, fence: str, polled: Polled | None = None) -> bool:
        """Do what is due; False once the job is over (final, or gone). ``polled``: this job's
        ``poll_jobs`` entry of the loop turn (read here when not given)."""
        try:
            rec = (parse_record(polled.record) if polled is not None and polled.record
                   else self.s.store.record(self.job_id))  # raises for a job that is gone
        except JobNotFoundError:
            return False
        if rec["status"] != JobStatus.RUNNING.value:
            return False
        pool = polled.pool if polled is not None else None
        if self.round is not None:
            round_no = self.round.plan.round_no
            if polled is None:
                merged = self.s.store.round_merged(self.job_id, round_no)
                reported = len(self.s.store.unit_ids(self.job_id, round_no))
            else:
                merged = None if polled.merged is None else json.loads(polled.merged)
                reported = polled.reported
            if not self._round_over(rec, fence, merged, reported):
                return True
            rec, pool = self._after_round()
            if rec["status"] != JobStatus.RUNNING.value:
                return False  # finished meanwhile, by the unit that ended it (finish_by_unit)
        reason = self._stop_reason(rec)
        if reason is not None:
            self._finish(rec, reason, fence)
            return False
        self._start_round(rec, fence, pool)
        return True

    def _round_over(self, rec: dict, fence: str, merged: dict | None, reported: int = 0) -> bool:
        """True once the round in flight is closed (``merged``: by the chord; or by the leader at
        its deadline, on takeover or cancel, or once its ``reported`` units are all in when the
        leader merges it, merged on its merge thread over a few turns)."""
        assert self.round is not None
        plan = self.round.plan
        if merged is None:
            if self.closing is None:
                cancel = rec["cancel_requested"]
                in_here = self.leader_merges and reported >= len(plan.units)
                early = self._early_close(plan, fence) or ("leader" if in_here else "")
                if not cancel and not early and time.time() < self.round.deadline_at:
                    return False
                closer = "cancel" if cancel else early or "deadline"
                problem = self.problem()
                self.s.fencing.check(fence)
                self.closing = self.s.close_round(problem, self.job_id, plan, fence, closer)
            if not self.closing.done():
                return False  # merging on the coordinator's merge thread: look again next turn
            closing, self.closing = self.closing, None
            # the merge's error (fenced, Redis, a poison job) is raised here
            self._note_failures(closing.result())
        else:  # closed (by the chord, or by our close that finished since: done with it)
            self.closing = None
            self.s.clock.observe(merged.get("lamport", 0))
            self._note_failures(merged)
        self.loop.last_kind = plan.kind
        if self.round.planned_at:  # 0 for a round resumed from a record that lacks it
            metrics.round_seconds.labels(plan.kind).observe(time.time() - self.round.planned_at)
        return True

    def _after_round(self) -> tuple[dict, int]:
        """Free the closed round's scratch and read what the next decision needs (the record
        and pool size as the close left them), in one round trip."""
        assert self.round is not None
        plan, self.round = self.round.plan, None
        return self.s.store.drop_round_scratch(self.job_id, plan.round_no,
                                               [u.unit_id for u in plan.units])

    def _note_failures(self, outcome: dict | None) -> None:
        """Count rounds that brought back nothing but unit errors (``outcome``: the round's
        close; None when another closer got there first)."""
        if outcome is None:
            return
        failed = outcome.get("failed") or {}
        if outcome.get("received"):
            self.failed_rounds = 0
        elif failed:
            self.failed_rounds += 1
            self.unit_error = str(next(iter(failed.values())))

    def _early_close(self, plan: RoundPlan, fence: str) -> str:
        """Why the open round should be closed before its deadline ('' if it should not):
        every unit reported and the round was planned by a deposed leader (its chord's merge
        carries that leader's fence and is refused), or every unit that did not report ran on
        a worker that was lost since (its message returns only at the visibility timeout)."""
        assert self.round is not None
        inherited = self.round.fence != fence
        lost = self.s.workers.lost_units_of(self.job_id)
        if not inherited and not lost:
            return ""
        reported = self.s.store.unit_ids(self.job_id, plan.round_no)
        missing = {u.unit_id for u in plan.units} - reported
        if not missing:
            return "takeover" if inherited else ""
        return "lost worker" if missing <= lost else ""

    def _stop_reason(self, rec: dict) -> str | None:
        """Cancel, a proof, or the round loop's decision (criteria, time for another round)."""
        if rec["cancel_requested"]:
            return "cancelled"
        if rec["proven_optimal"]:
            return "proven optimal"
        if self.failed_rounds >= FAILED_ROUNDS_LIMIT:
            return f"every unit failed in {self.failed_rounds} rounds in a row"
        best = rec.get("best_length")
        length = math.inf if best is None else best
        bound = self.s.store.get_bound(self.instance) if self.params.bound else None
        if bound and best is not None and meets_bound(
                length, bound.get("value"), bool(bound.get("proven")),
                self.problem().is_integral):
            return "optimal: the tour meets the lower bound"
        self.loop.stall_rounds = rec.get("stall", 0)
        state = SearchState(time.time() - self.admitted_at, length, self.loop.stall_rounds)
        return self.loop.stop_reason(state, slots=self.s.workers.slots(), has_tour=best is not None,
                                     active_jobs=max(1, self.s.active_jobs()))

    def remaining_s(self, at: float | None = None) -> float:
        """Budget left now (or at wall time ``at``)."""
        return self.params.time_s - ((time.time() if at is None else at) - self.admitted_at)

    def winding_down(self) -> bool:
        """In a round that ends within EARLY_ADMIT_S (see there), after which no other fits the
        budget or whose units are short (SHORT_ROUND_S: the next round's are short too)."""
        if self.round is None:
            return False
        end = self.round.expected_end
        last = self.remaining_s(at=end) < MIN_UNIT_S
        short = self.round.plan.budget_s <= SHORT_ROUND_S
        return (last or short) and end - time.time() < EARLY_ADMIT_S

    # -- rounds -----------------------------------------------------------------------------------
    def _needs_initial_tour(self, rec: dict) -> bool:
        return (rec.get("best_length") is None
                and needs_first_tour(self.n, self.loop.matrix_budget_bytes))

    def _send_initial(self, slots: int) -> None:
        """Ask for the first tour: its parts spread over the live worker slots when there is
        time for a partition, else one greedy task. A lost one is asked for again once it is
        overdue (``initial_wait_s``)."""
        first = plan_first_tour(self.n, self.loop.matrix_budget_bytes, self.remaining_s())
        self.initial_wait_s = INITIAL_TOUR_WAIT_S + first.partition_s
        self.s.dispatcher.send_initial(
            self.job_id, self.instance, self.params.seed, self.s.clock.tick(), first.partition_s,
            max_part_nodes=first.max_part_nodes, parts=first.parts, slots=slots)

    def _start_round(self, rec: dict, fence: str, pool: int | None = None) -> None:
        """Plan, record and send the next round (``pool``: the elite pool's size if known)."""
        slots = self.s.workers.slots()
        if slots < 1:
            return  # no live worker: wait (the time budget keeps running)
        if self._needs_initial_tour(rec):
            now = time.time()
            if self.initial_sent_at is None or now - self.initial_sent_at > self.initial_wait_s:
                self.s.fencing.confirm(fence)
                self._send_initial(slots)
                self.initial_sent_at = now
            return
        self.s.clock.observe(rec.get("best_lamport", 0))
        remaining = self.remaining_s()
        self.loop.stall_rounds = rec.get("stall", 0)
        inp = self.loop.plan_input(
            slots=slots, elapsed_s=time.time() - self.admitted_at,
            has_tour=rec.get("best_length") is not None, active_jobs=max(1, self.s.active_jobs()),
            pool_size=(0 if not self.params.merge else
                       self.s.store.elite_size(self.job_id) if pool is None else pool))
        plan = self.loop.plan(inp)
        cap = min(MAX_UNIT_BUDGET_S, max(remaining, MIN_UNIT_S))
        plan = replace(plan, units=tuple(replace(u, budget_s=min(u.budget_s, cap))
                                         for u in plan.units))
        now = time.time()
        deadline_at = now + plan.deadline_s + MERGE_GRACE_S
        record = {"plan": plan.to_dict(), "fence": fence, "planned_at": now,
                  "deadline_at": deadline_at, "slots": slots, "active_jobs": inp.active_jobs}
        self.s.fencing.check(fence)  # planning may have taken a while
        event = self.s.events.stamp(
            EventType.ROUND_PLANNED, self.s.clock,
            {"round": plan.round_no, "kind": plan.kind, "units": [u.unit_id for u in plan.units],
             "budget_s": plan.budget_s, "deadline_s": plan.deadline_s, "slots": slots})
        status, planned_event = self.s.store.plan_round(self.job_id, plan.round_no, record,
                                                        fence, event)
        if status != "ok":
            return  # the job left the running state meanwhile; the next step sees it
        self.round = InFlight(plan, deadline_at, now, slots, fence)
        self.round.planned_event = planned_event
        # No read-back of the lease before sending (Fencing.confirm): the fenced PLAN_ROUND
        # (with its round_planned event) just checked it in Redis.
        self.s.fencing.check(fence)
        try:
            self.s.dispatcher.send_round(self.job_id, self.instance, plan, fence,
                                         self.s.clock.value, now + plan.deadline_s,
                                         merge_task=not self.leader_merges)
            metrics.units_dispatched.inc(len(plan.units))
        except Exception as exc:  # broker trouble: the deadline closes the round
            log.warning("job %s round %s: dispatch failed: %s", self.job_id, plan.round_no, exc)

    def _finish(self, rec: dict, reason: str, fence: str) -> None:
        if reason == "cancelled":
            status, kind, error = JobStatus.CANCELLED, EventType.CANCELLED, ""
        elif rec.get("best_length") is None:
            status, kind = JobStatus.FAILED, EventType.FAILED
            cause = (f"units failed: {self.unit_error}" if self.unit_error
                     else "were workers alive?")
            error = f"no tour found before the stop ({reason}); {cause}"
        else:
            status, kind, error = JobStatus.DONE, EventType.DONE, ""
        self.s.fencing.check(fence)
        event = self.s.events.stamp(kind, self.s.clock,
                                    {"reason": reason, "best_length": rec.get("best_length"),
                                     "rounds": rec.get("rounds_done", 0), "error": error})
        final = self.s.store.finish(self.job_id, status, fence, error, event,
                                    rounds=rec.get("round", 0))
        log.info("job %s %s: %s (best %s)", self.job_id, final, reason, rec.get("best_length"))
