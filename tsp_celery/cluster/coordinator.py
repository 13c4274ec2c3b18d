"""The coordinator service: an elected leader admits queued jobs and drives every active job.

Three threads. The lease keeper renews the lease (or campaigns for it) every ``lease_renew_ms`` on
its own, so no recovery, merge or slow Redis call of the work can starve it; it stops renewing
when the work loop has not turned for LOOP_STALL_S (a wedged loop still loses the lease). The
merge thread merges the rounds the leader closes itself (``close_round``), so one wide merge
does not hold up every other job's next round. The work loop follows the lease: while leader,
every active job gets one non-blocking ``JobDriver.step``, and every control write is fenced
twice — locally (``Fencing.check``: a leader past its local deadline stops writing at once) and
atomically in Redis. A refused fenced write (FencedWriteError) means someone else leads now: drop
all job state and go back to standby.
Any other Redis failure (unreachable, OOM, READONLY, MISCONF, BUSY...) is backed off and retried,
with one log line per change of state (``RedisHealth``); the process stays up.

On acquiring the lease, ``on_acquire`` starts a ``Recovery`` that the work loop runs in bounded
steps, between the steps of the jobs already recovered.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait

from tsp_celery import metrics
from tsp_celery.cluster.admission import Admission
from tsp_celery.cluster.cache import ProblemCache
from tsp_celery.cluster.connection import connect_settings
from tsp_celery.cluster.dispatch import Dispatcher
from tsp_celery.cluster.driver import DriverServices, JobDriver, poll_jobs
from tsp_celery.cluster.events import EventLog, EventType, wait_for_wake, wake_leader
from tsp_celery.cluster.fencing import Fencing
from tsp_celery.cluster.job import JobStatus
from tsp_celery.cluster.keys import Keys
from tsp_celery.cluster.lamport import LamportClock
from tsp_celery.cluster.lease import LeaderLease
from tsp_celery.cluster.recovery import JobRecovery, Recovery
from tsp_celery.cluster.redis_health import RedisHealth, is_redis_failure
from tsp_celery.cluster.round_close import close_round
from tsp_celery.cluster.store import JobStore
from tsp_celery.cluster.worker_watch import WorkerWatch
from tsp_celery.errors import ClusterError, FencedWriteError, JobNotFoundError, TspCeleryError
from tsp_celery.metrics.exporter import serve_metrics
from tsp_celery.plan import RoundPlan
from tsp_celery.problem import Problem
from tsp_celery.settings import Settings
from tsp_celery.solver.certify import bound_budget_s

log = logging.getLogger(__name__)

# Between turns the leader blocks on its wake list (events.WAKE_EVENTS: a submission, a unit's
# end, a merge, a cancel push it), for at most WAKE_WAIT_S: what no event announces (a round's
# deadline, a lost worker) waits that long at most. A standby polls the lease every IDLE_POLL_S.
WAKE_WAIT_S = 0.25
IDLE_POLL_S = 0.05
# Look for active jobs without a driver (admitted elsewhere) this often.
SYNC_S = 2.0
# Recovery after a takeover runs in steps of at most this long (then the jobs get a turn).
RECOVERY_STEP_S = 0.2
# The leader applies retention (store.purge: index entries of expired jobs) this often.
PURGE_S = 60.0
# A job whose planning, merging or resumption raised this many times is failed (poison job);
# errors of our own package (a corrupt stored instance) fail it at once.
POISON_LIMIT = 3
# At most this many jobs per slot are active while all but ``slots`` of them wind down (see
# _admit): tiny jobs' units then queue behind each other, and the slots never idle through a
# job's merge and next dispatch (docs/performance.md, "Cluster: overhead, throughput").
ADMIT_AHEAD = 4
# The lease keeper stops renewing when the work loop has not turned for this long: a wedged
# loop must lose the lease, as it would if it renewed itself.
LOOP_STALL_S = 60.0


def default_node_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Coordinator:
    """Leader election, admission and the per-job drivers, on one Redis deployment."""

    def __init__(self, settings: Settings, node_id: str | None = None, priority: int = 0, *,
                 max_active: int | None = None, dispatcher: Dispatcher | None = None,
                 redis=None) -> None:
        self.settings = settings
        self.node_id = node_id or default_node_id()
        self.redis = redis if redis is not None else connect_settings(settings)
        self.keys = Keys(settings.prefix)
        self.store = JobStore(self.redis, self.keys, settings)
        self.events = EventLog(self.redis, self.keys)
        self.clock = LamportClock(self.node_id)
        self.lease = LeaderLease(self.redis, self.keys, self.node_id, priority,
                                 settings.lease_ttl_ms, settings.lease_renew_ms)
        self.dispatcher = dispatcher or Dispatcher(settings)
        self.problems = ProblemCache(self.store)
        # re-checks every queued job against our limits
        self.admission = Admission(self.store, self.problems, self.events, self.clock)
        self.max_active = max_active
        self.drivers: dict[str, JobDriver] = {}
        self.workers = WorkerWatch(self.redis, self.keys, self.events, self._round_starts)
        self.fencing = Fencing(self.lease, self.store)
        self.services = DriverServices(self.store, self.problems, self.events, self.clock,
                                       self.dispatcher, self.fencing, self.workers, settings,
                                       self.active_count, self.close_round)
        self.recovery: Recovery | None = None
        self.job_faults: dict[str, int] = {}
        self.health = RedisHealth(self.node_id)
        # Rounds the leader closes itself are merged here, off the loop (see close_round).
        self._closer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tsp-close")
        self._stop = threading.Event()
        self._synced = 0.0
        self._purged = time.monotonic()
        self._led_fence: str | None = None  # the lease value our job state belongs to
        self._loop_turned = time.monotonic()

    # -- what drivers ask -----------------------------------------------------------------------
    def _open_rounds(self) -> dict[str, int]:
        return {job_id: d.open_round() for job_id, d in self.drivers.items()}

    def _round_starts(self) -> dict[str, tuple[int, str]]:
        """Open rounds and where their events begin (see WorkerWatch)."""
        return {job_id: (d.round.plan.round_no, d.round.planned_event)
                for job_id, d in self.drivers.items() if d.round is not None}

    def active_count(self) -> int:
        return len(self.drivers)

    def close_round(self, problem: Problem, job_id: str, plan: RoundPlan, fence: str,
                    closer: str) -> Future:
        """Merge and close a round on the coordinator's merge thread: a wide round's merge
        takes a second or more, and the loop must go on stepping the other jobs meanwhile
        (after a takeover the leader closes every inherited round itself)."""
        def close() -> dict | None:
            with metrics.merge_seconds.labels(closer).time():
                return close_round(self.store, problem, job_id, plan, fence, closer=closer,
                                   events=self.events, clock=self.clock)
        closing = self._closer.submit(close)
        closing.add_done_callback(self._wake_after_failed_close)
        return closing

    def _wake_after_failed_close(self, closing: Future) -> None:
        """A close that failed appended no round_merged event, the wake-up its driver waits
        for: wake the loop here so the failure is handled at once, not after WAKE_WAIT_S
        (best effort: Redis may be what failed, and the loop's back-off covers that)."""
        if closing.cancelled() or closing.exception() is None:
            return
        try:
            wake_leader(self.redis, self.keys)
        except Exception as exc:  # a callback's exception would only be logged and dropped
            if not is_redis_failure(exc):
                log.exception("%s: could not wake the loop after a failed close", self.node_id)

    # -- leadership -----------------------------------------------------------------------------
    @property
    def _leading(self) -> bool:
        return self._led_fence is not None

    def on_acquire(self) -> None:
        """Just became leader: rebuild every non-final job from Redis, in bounded steps."""
        self.drivers.clear()
        self.store.replicate(f"leader lease {self._led_fence}")  # the new term, on the replicas
        metrics.leader_acquisitions.inc()
        self.admission.publish()
        self.recovery = Recovery(self.services, self.lease.fence, self.resume_job,
                                 self.job_fault)
        self._recovery_started = time.monotonic()
        self._recover_step()

    def _recover_step(self) -> None:
        if self.recovery is not None and self.recovery.step(RECOVERY_STEP_S):
            self.recovery = None
            metrics.recovery_seconds.observe(time.monotonic() - self._recovery_started)

    def resume_job(self, job_id: str, fence: str) -> JobDriver | None:
        try:
            rec = self.store.record(job_id)
        except JobNotFoundError:
            return None
        if rec["status"] != "running":
            return None
        self.clock.observe(self.events.max_lamport(job_id))
        driver = JobDriver.resume(self.services, rec)
        self.drivers[job_id] = driver
        self.events.emit(job_id, EventType.LEADER_CHANGED, self.clock,
                         {"leader": self.node_id, "fence": fence,
                          "round": rec.get("round", 0)}, fence=fence)
        return driver

    def on_lose(self, reason: str) -> None:
        self._led_fence = None
        self.recovery = None
        if self.drivers:
            log.warning("%s: dropping %d job(s): %s", self.node_id, len(self.drivers), reason)
        self.drivers.clear()

    # -- one leader turn ------------------------------------------------------------------------
    def tick(self) -> None:
        fence = self.lease.fence
        if fence is None:
            return
        self._recover_step()
        self._admit(fence)
        self._sync(fence)
        if time.monotonic() - self._purged > PURGE_S:
            self._purged = time.monotonic()
            self.store.purge()
        polled = poll_jobs(self.store, self._open_rounds())
        for job_id, driver in list(self.drivers.items()):
            self.fencing.check(fence)
            if self.guarded(job_id, fence, driver.step, fence, polled.get(job_id)) is False:
                self.drivers.pop(job_id, None)
                self.workers.forget_job(job_id)

    def guarded(self, job_id: str, fence: str, action, *args):
        """``action(*args)`` for one job; if it raises (and the fault is the job's, not Redis's
        or the lease's) the fault is counted and None returned: see ``job_fault``."""
        try:
            return action(*args)
        except ClusterError:  # fenced, or Redis gone: the loop's handlers decide
            raise
        except Exception as exc:
            if is_redis_failure(exc):
                raise
            self.job_fault(job_id, fence, exc)
            return None

    def job_fault(self, job_id: str, fence: str, exc: Exception) -> None:
        """A poison job fails alone: after POISON_LIMIT faults (at once for our own errors) it
        is failed with the reason in its status and log; the coordinator carries on."""
        faults = self.job_faults[job_id] = self.job_faults.get(job_id, 0) + 1
        reason = f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, TspCeleryError) and faults < POISON_LIMIT:
            log.warning("job %s: %s (fault %d of %d, trying again)", job_id, reason, faults,
                        POISON_LIMIT, exc_info=True)
            return
        if not isinstance(exc, TspCeleryError):
            log.error("job %s failed %d times: %s", job_id, faults, reason, exc_info=True)
            reason = f"{reason} (raised {faults} times in planning, merging or resuming)"
        self.drivers.pop(job_id, None)
        self.job_faults.pop(job_id, None)
        self._fail(job_id, fence, reason)

    def _fail(self, job_id: str, fence: str, error: str) -> None:
        log.error("job %s failed: %s", job_id, error)
        self.store.finish(job_id, JobStatus.FAILED, fence, error,
                          self.events.stamp(EventType.FAILED, self.clock, {"error": error}))

    def _admit(self, fence: str) -> None:
        slots = self.workers.slots()
        cap = self.max_active if self.max_active is not None else slots
        # Jobs in a last round about to end, or in short rounds, leave their slots to the next
        # ones early (see EARLY_ADMIT_S, SHORT_ROUND_S), up to ADMIT_AHEAD jobs per slot in all.
        room = min(cap - sum(not d.winding_down() for d in self.drivers.values()),
                   ADMIT_AHEAD * cap - len(self.drivers))
        if slots < 1 or room < 1:
            return  # no workers: queued jobs wait (safely) in the queue
        for job_id in self.store.queued_ids(room):
            submitted = self.admission.admissible(job_id, fence)
            if submitted is None:
                continue
            self.clock.observe(int(submitted.get("lamport") or 0))
            event = self.events.stamp(EventType.ADMITTED, self.clock,
                                      {"leader": self.node_id, "slots": slots})
            _status, rec = self.store.admit(job_id, fence, self.node_id, event)
            if rec is None:
                continue
            driver = self.guarded(job_id, fence, JobDriver, self.services, rec)
            if driver is None:
                continue
            self.drivers[job_id] = driver
            budget = (bound_budget_s(self.problems.get(rec["instance"]), driver.params.time_s)
                      if driver.params.bound else None)
            if budget is not None:
                self.dispatcher.send_bound(rec["instance"], budget, driver.params.seed,
                                           self.clock.tick())

    def recover(self) -> list[JobRecovery]:
        """Resume every admitted, non-final job after a takeover, in one go (see Recovery), its
        closes merged."""
        recovery = Recovery(self.services, self.lease.fence, self.resume_job, self.job_fault)
        recovery.step()
        wait([d.closing for d in self.drivers.values() if d.closing is not None])
        return recovery.report

    def _sync(self, fence: str) -> None:
        now = time.monotonic()
        if now - self._synced < SYNC_S or self.recovery is not None:
            return
        self._synced = now
        for job_id in self.store.active_ids():
            if job_id not in self.drivers:
                self.guarded(job_id, fence, self.resume_job, job_id, fence)

    # -- the loop -------------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Campaign, lead, step down; until ``stop()`` (or SIGTERM/SIGINT via ``serve``)."""
        log.info("coordinator %s (priority %d) started", self.node_id, self.lease.priority)
        keeper = threading.Thread(target=self._keep_lease, name="tsp-lease", daemon=True)
        keeper.start()
        try:
            while not self._stop.is_set():
                self._loop_turned = time.monotonic()
                self._follow_lease()
                if self._leading:
                    pause = self._leader_turn()
                    if pause:
                        self._stop.wait(pause)
                    else:
                        self._await_work()
                else:
                    self._stop.wait(IDLE_POLL_S)
        finally:
            self._stop.set()
            self._closer.shutdown(wait=False, cancel_futures=True)
            keeper.join(timeout=self.settings.lease_ttl_ms / 1000.0)
            self.lease.release()
            log.info("coordinator %s stopped", self.node_id)

    # -- the lease keeper (its own thread) ------------------------------------------------------
    def _keep_lease(self) -> None:
        renew_s = self.settings.lease_renew_ms / 1000.0
        health = RedisHealth(f"{self.node_id} lease")
        while not self._stop.is_set():
            stalled = time.monotonic() - self._loop_turned
            if stalled > LOOP_STALL_S:
                self.lease.step_down(f"the work loop has not turned for {stalled:.0f} s")
                self._stop.wait(renew_s)
                continue
            try:
                with metrics.lease_step_seconds.time():
                    self.lease.step()
                health.ok()
            except Exception as exc:  # whatever Redis answers, the keeper keeps going
                if is_redis_failure(exc):
                    metrics.redis_error(exc)
                else:
                    log.exception("%s: lease turn failed", self.node_id)
                self._stop.wait(health.failed(exc))
                continue
            self._stop.wait(renew_s)

    # -- the work loop --------------------------------------------------------------------------
    def _follow_lease(self) -> None:
        """Start or drop the job state when the keeper won, lost or changed the lease."""
        fence = self.lease.fence
        if fence == self._led_fence:
            return
        if self._led_fence is not None:
            self.on_lose("lease lost" if fence is None else f"lease changed to {fence}")
        if fence is None:
            return
        log.info("%s is leader with %s", self.node_id, fence)
        self._led_fence = fence
        if self._guarded_turn(self.on_acquire) and self.recovery is None:
            self._led_fence = None  # Redis failed before the recovery started: start over

    def _await_work(self) -> None:
        """Until something to do is announced (or WAKE_WAIT_S passed); a Redis failure here
        is left to the next turn, which backs off."""
        try:
            wait_for_wake(self.redis, self.keys, WAKE_WAIT_S)
        except Exception as exc:
            if not is_redis_failure(exc):
                raise
            self._stop.wait(IDLE_POLL_S)

    def _leader_turn(self) -> float:
        """One leader turn; returns a back-off delay after a Redis failure (else 0)."""
        return self._guarded_turn(self.tick)

    def _guarded_turn(self, action) -> float:
        """Run a leader action: a refused fence steps down; a Redis failure is noted (one log
        line per state change) and its back-off returned; 0 after success."""
        try:
            action()
        except FencedWriteError as exc:
            self.lease.step_down(str(exc))
            self.on_lose(str(exc))
        except Exception as exc:
            if not is_redis_failure(exc):
                raise
            metrics.redis_error(exc)
            return self.health.failed(exc)
        if not any(d.closing is not None for d in self.drivers.values()):
            # A close on the merge thread reports its failure a turn later: Redis is fine again
            # once those have come back too, not after every turn that merely handed one over.
            self.health.ok()
        return 0.0


def serve(settings: Settings, node_id: str | None = None, priority: int = 0, *,
          metrics_port: int | None = None, metrics_addr: str = "0.0.0.0", **kwargs) -> None:
    """Run a coordinator in the foreground until SIGTERM or SIGINT (``/metrics`` on
    ``metrics_port`` if given)."""
    coordinator = Coordinator(settings, node_id, priority, **kwargs)
    if metrics_port is not None:
        serve_metrics(coordinator, metrics_port, metrics_addr)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: coordinator.stop())
    coordinator.run()
