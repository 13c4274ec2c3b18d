"""Recovery manager: what a coordinator does with every non-final job when it becomes leader.

A ``Recovery`` is started once per acquisition (``Coordinator.on_acquire``) and stepped from the
coordinator's loop in bounded steps until every job was examined. For each admitted job, under
that job's fenced lock, it rebuilds the job's driver from Redis (which appends a
``leader_changed`` event and moves our Lamport clock past the job's log) and decides about the
round the previous leader left open:

- **await** — its units are still arriving (some unit was delivered or runs on a live worker) and
  its deadline has not passed: the driver waits for it exactly as the old leader would have;
- **close** — it is dead: its deadline passed, every unit already reported (the chord body was
  lost), or none of its units is anywhere — not stored, not delivered, not running on a live
  worker, not waiting in the broker (the old leader died between recording the round and
  dispatching it, or the messages were lost). It is closed with what arrived, merged on the
  leader's merge thread (``Coordinator.close_round``) while the other jobs go on, and the
  driver plans the next round at its first step after that;
- jobs between rounds simply go on; queued jobs are left to the normal admission loop.

Nothing that committed runs twice: the best tour is in Redis, unit results are stored first-write-
wins by unit id, closing a round is once-only (HSETNX), and a unit of a closed round skips itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from tsp_celery.cluster.celery_config import SOLVE_QUEUE, celery_config
from tsp_celery.cluster.dispatch import unit_task_id
from tsp_celery.cluster.driver import DriverServices, JobDriver
from tsp_celery.cluster.lock import LockNotAcquiredError, job_lock
from tsp_celery.cluster.redis_health import is_redis_failure
from tsp_celery.cluster.workers import live_workers
from tsp_celery.errors import ClusterError, TspCeleryError

if TYPE_CHECKING:
    from tsp_celery.cluster.store import JobStore
    from tsp_celery.plan import RoundPlan

log = logging.getLogger(__name__)

# The job lock is held only while one job is examined; a dead holder's lock expires this fast.
LOCK_TTL_MS = 30_000
LOCK_WAIT_S = 2.0


@dataclass
class JobRecovery:
    """What recovery decided for one job (logged, and returned for tests and benchmarks)."""

    job_id: str
    action: str  # "await", "close", "next round", "skipped"
    round: int = 0
    reason: str = ""
    arrived: int = 0
    missing: int = 0
    lost_unit_s: float = 0.0  # planned unit-seconds of the closed round that never arrived


class Recovery:
    """One takeover's recovery pass, run in bounded steps from the coordinator's loop.

    Each ``step`` examines jobs until its time budget is used, so a takeover with hundreds of
    active jobs (each with a long event log) never holds the loop for longer than a step; the
    lease is renewed on its own thread meanwhile. The broker is read once per pass.
    """

    def __init__(self, services: DriverServices, fence: str | None,
                 resume_job: Callable[[str, str], JobDriver | None],
                 job_fault: Callable[[str, str, Exception], None]) -> None:
        self.started = time.monotonic()
        self.s = services
        self.fence = fence
        self.resume_job = resume_job  # rebuilds (and registers) a job's driver
        self.job_fault = job_fault  # counts a poison job's fault, failing it at the limit
        self.pending = services.store.active_ids() if fence is not None else []
        self.report: list[JobRecovery] = []
        self._broker: list[bytes] | None = None

    @property
    def done(self) -> bool:
        return not self.pending

    def step(self, budget_s: float = float("inf")) -> bool:
        """Recover jobs until ``budget_s`` is used (at least one); True once all are done."""
        deadline = time.monotonic() + budget_s
        while self.pending:
            self.report.append(self._one(self.pending[0]))
            self.pending.pop(0)  # only once examined: a Redis failure retries it next step
            if time.monotonic() >= deadline:
                break
        if self.done:
            log.info("%s recovered %d job(s) in %.3f s (%d queued): %s", self.s.clock.node_id,
                     len(self.report), time.monotonic() - self.started,
                     len(self.s.store.queued_ids()), [asdict(r) for r in self.report])
        return self.done

    def broker_messages(self) -> list[bytes]:
        """The solve queue and kombu's unacked messages, read once per pass."""
        if self._broker is None:
            redis = self.s.store.redis
            prefix = celery_config(self.s.settings)["broker_transport_options"]["global_keyprefix"]
            self._broker = (redis.lrange(prefix + SOLVE_QUEUE, 0, -1)
                            + redis.hvals(prefix + "unacked"))
        return self._broker

    def _one(self, job_id: str) -> JobRecovery:
        s, fence = self.s, self.fence
        assert fence is not None
        s.fencing.check(fence)
        lock = job_lock(s.store.redis, s.store.keys, job_id, s.clock.node_id, fence=fence,
                        ttl_ms=LOCK_TTL_MS, wait_s=LOCK_WAIT_S)
        try:
            with lock:
                return _recover_job(self, job_id, fence)
        except LockNotAcquiredError as exc:
            # Left to the coordinator's periodic sync, which resumes any job without a driver.
            log.warning("recovery of job %s postponed: %s", job_id, exc)
            return JobRecovery(job_id, "skipped", reason=str(exc))
        except ClusterError:  # fenced or Redis gone: the coordinator's loop handles it
            raise
        except TspCeleryError as exc:  # e.g. a corrupt instance: its driver will fail the job
            log.warning("recovery of job %s left to its driver: %s", job_id, exc)
            return JobRecovery(job_id, "skipped", reason=str(exc))
        except Exception as exc:
            if is_redis_failure(exc):
                raise
            self.job_fault(job_id, fence, exc)  # a poison job: counted, failed alone
            return JobRecovery(job_id, "skipped", reason=f"{type(exc).__name__}: {exc}")


def _recover_job(recovery: Recovery, job_id: str, fence: str) -> JobRecovery:
    s = recovery.s
    driver = recovery.resume_job(job_id, fence)
    if driver is None:
        return JobRecovery(job_id, "skipped", reason="not running")
    if driver.round is None:
        return JobRecovery(job_id, "next round", round=driver.loop.round_no - 1)
    plan, deadline_at = driver.round.plan, driver.round.deadline_at
    records = s.store.unit_records(job_id, plan.round_no)
    arrived = [u for u in plan.units if u.unit_id in records]
    missing = [u for u in plan.units if u.unit_id not in records]
    reason = _dead_reason(recovery, job_id, plan, deadline_at, arrived)
    if reason is None:
        return JobRecovery(job_id, "await", plan.round_no, arrived=len(arrived),
                           missing=len(missing))
    # Merged on the leader's merge thread, so the other jobs are recovered and stepped
    # meanwhile; the driver waits for it as for any close of its own.
    driver.closing = s.close_round(s.problems.get(driver.instance), job_id, plan, fence,
                                   "recovery")
    return JobRecovery(job_id, "close", plan.round_no, reason, len(arrived), len(missing),
                       round(sum(u.budget_s for u in missing), 3))


def _dead_reason(recovery: Recovery, job_id: str, plan: RoundPlan, deadline_at: float,
                 arrived: list) -> str | None:
    """Why the open round cannot complete by itself any more, or None if it may."""
    store = recovery.s.store
    if time.time() >= deadline_at:
        return "deadline passed"
    if len(arrived) == len(plan.units):
        return "all units arrived, merge not done"
    task_ids = [unit_task_id(job_id, u.unit_id) for u in plan.units]
    if (arrived or _running(store, job_id, plan)
            or any(store.redis.exists(store.keys.attempts(t)) for t in task_ids)
            or _in_broker(recovery.broker_messages(), task_ids)):
        return None
    return "no unit stored, delivered, running or queued"


def _running(store: JobStore, job_id: str, plan: RoundPlan) -> bool:
    """A live worker reports a unit of this round in progress."""
    ids = {u.unit_id for u in plan.units}
    return any(unit.get("job_id") == job_id and unit.get("unit_id") in ids
               for worker in live_workers(store.redis, store.keys)
               for unit in worker.get("units", []))


def _in_broker(messages: list[bytes], task_ids: list[str]) -> bool:
    """Some message of these tasks waits in the solve queue or is reserved (kombu's unacked)."""
    needles = [f'"{t}"'.encode() for t in task_ids]
    return any(needle in raw for raw in messages for needle in needles)
