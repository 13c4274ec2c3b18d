"""The coordinator service: an elected leader admits queued jobs and drives every active job.

One thread, one loop. Each turn the lease is renewed (or campaigned for) when due — from this
loop, never a helper thread, so a wedged loop loses the lease — and, while leader, every active
job gets one non-blocking ``JobDriver.step``. Standbys only campaign. A refused fenced write
(FencedWriteError) means someone else leads now: drop all job state and go back to standby.

On acquiring the lease, ``on_acquire`` rebuilds the active jobs from Redis: the HA recovery
(``tsp_celery.cluster.recovery.recover(coordinator)``) when present, else ``resume_jobs``.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import socket
import threading
import time

from tsp_celery.cluster.admission import Admission
from tsp_celery.cluster.cache import ProblemCache
from tsp_celery.cluster.connection import REDIS_DOWN, connect
from tsp_celery.cluster.dispatch import Dispatcher
from tsp_celery.cluster.driver import JobDriver
from tsp_celery.cluster.events import EventLog, EventType
from tsp_celery.cluster.job import JobStatus
from tsp_celery.cluster.keys import Keys
from tsp_celery.cluster.lamport import LamportClock
from tsp_celery.cluster.lease import LeaderLease
from tsp_celery.cluster.store import JobStore
from tsp_celery.cluster.workers import live_slots
from tsp_celery.errors import ClusterError, FencedWriteError, JobNotFoundError, TspCeleryError
from tsp_celery.settings import Settings

log = logging.getLogger(__name__)

# Seconds between loop turns while leading with active jobs (how quickly a merged round is
# followed up), and while leading an idle cluster (how quickly a submitted job is admitted).
POLL_S = 0.02
IDLE_POLL_S = 0.05
# Re-read live worker slots at most this often.
SLOTS_REFRESH_S = 1.0
# Look for active jobs without a driver (admitted elsewhere) this often.
SYNC_S = 2.0


def default_node_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Coordinator:
    """Leader election, admission and the per-job drivers, on one Redis deployment."""

    def __init__(self, settings: Settings, node_id: str | None = None, priority: int = 0, *,
                 max_active: int | None = None, dispatcher: Dispatcher | None = None,
                 redis=None) -> None:
        self.settings = settings
        self.node_id = node_id or default_node_id()
        self.redis = redis if redis is not None else connect(settings.redis_url)
        self.keys = Keys(settings.prefix)
        self.store = JobStore(self.redis, self.keys, settings)
        self.events = EventLog(self.redis, self.keys)
        self.clock = LamportClock(self.node_id)
        self.lease = LeaderLease(self.redis, self.keys, self.node_id, priority,
                                 settings.lease_ttl_ms, settings.lease_renew_ms)
        self.dispatcher = dispatcher or Dispatcher(settings)
        self.problems = ProblemCache(self.store)
        self.admission = Admission(self)  # re-checks every queued job against our limits
        self.max_active = max_active
        self.drivers: dict[str, JobDriver] = {}
        self._stop = threading.Event()
        self._slots = (0.0, 0)
        self._synced = 0.0
        self._leading = False

    # -- what drivers ask -----------------------------------------------------------------------
    def slots(self) -> int:
        """Live worker slots (cached for SLOTS_REFRESH_S)."""
        at, value = self._slots
        now = time.monotonic()
        if now - at > SLOTS_REFRESH_S:
            value = live_slots(self.redis, self.keys)
            self._slots = (now, value)
        return value

    def active_count(self) -> int:
        return len(self.drivers)

    # -- leadership -----------------------------------------------------------------------------
    def on_acquire(self) -> None:
        """Just became leader: rebuild every non-final job from Redis."""
        self.drivers.clear()
        self.admission.publish()
        recovery = _optional_module("tsp_celery.cluster.recovery")
        if recovery is not None and hasattr(recovery, "recover"):
            recovery.recover(self)
        else:
            self.resume_jobs()

    def resume_jobs(self) -> None:
        """Resume every admitted, non-final job from its record; queued ones wait for admission.

        A round recorded but not merged is awaited until its recorded deadline and then closed
        with what arrived; nothing that was committed is redone.
        """
        fence = self.lease.fence
        if fence is None:
            return
        for job_id in self.store.active_ids():
            self.resume_job(job_id, fence)

    def resume_job(self, job_id: str, fence: str) -> JobDriver | None:
        try:
            rec = self.store.record(job_id)
        except JobNotFoundError:
            return None
        if rec["status"] != "running":
            return None
        self.clock.observe(self.events.max_lamport(job_id))
        driver = JobDriver.resume(self, rec)
        self.drivers[job_id] = driver
        self.events.emit(job_id, EventType.LEADER_CHANGED, self.clock,
                         {"leader": self.node_id, "fence": fence,
                          "round": rec.get("round", 0)}, fence=fence)
        return driver

    def on_lose(self, reason: str) -> None:
        self._leading = False
        if self.drivers:
            log.warning("%s: dropping %d job(s): %s", self.node_id, len(self.drivers), reason)
        self.drivers.clear()

    # -- one leader turn ------------------------------------------------------------------------
    def tick(self) -> None:
        fence = self.lease.fence
        if fence is None:
            return
        self._admit(fence)
        self._sync(fence)
        for job_id, driver in list(self.drivers.items()):
            try:
                alive = driver.step(fence)
            except ClusterError:  # fenced, or Redis gone: the loop's handlers decide
                raise
            except TspCeleryError as exc:  # e.g. a corrupt stored instance: fail the job, not us
                self._fail(job_id, fence, str(exc))
                alive = False
            if not alive:
                self.drivers.pop(job_id, None)

    def _fail(self, job_id: str, fence: str, error: str) -> None:
        log.error("job %s failed: %s", job_id, error)
        self.store.finish(job_id, JobStatus.FAILED, fence, error)
        self.events.emit(job_id, EventType.FAILED, self.clock, {"error": error}, fence=fence)

    def _admit(self, fence: str) -> None:
        slots = self.slots()
        cap = self.max_active if self.max_active is not None else slots
        # Jobs in a last round about to end leave their slots to the next ones early (see
        # EARLY_ADMIT_S), but never more than ``cap`` of them wait in the queue that way.
        room = min(cap - sum(not d.winding_down() for d in self.drivers.values()),
                   2 * cap - len(self.drivers))
        if slots < 1 or room < 1:
            return  # no workers: queued jobs wait (safely) in the queue
        for job_id in self.store.queued_ids(room):
            if not self.admission.admissible(job_id, fence):
                continue
            if self.store.admit(job_id, fence, self.node_id) != "running":
                continue
            rec = self.store.record(job_id)
            self.clock.observe(rec.get("lamport", 0))
            self.events.emit(job_id, EventType.ADMITTED, self.clock,
                             {"leader": self.node_id, "slots": slots}, fence=fence)
            driver = JobDriver(self, rec)
            self.drivers[job_id] = driver
            if driver.params.bound:
                budget = min(10.0, max(1.0, 0.25 * driver.params.time_s))
                self.dispatcher.send_bound(rec["instance"], budget, driver.params.seed,
                                           self.clock.tick())

    def _sync(self, fence: str) -> None:
        now = time.monotonic()
        if now - self._synced < SYNC_S:
            return
        self._synced = now
        for job_id in self.store.active_ids():
            if job_id not in self.drivers:
                self.resume_job(job_id, fence)

    # -- the loop -------------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Campaign, lead, step down; until ``stop()`` (or SIGTERM/SIGINT via ``serve``)."""
        renew_s = self.settings.lease_renew_ms / 1000.0
        next_lease = 0.0
        log.info("coordinator %s (priority %d) started", self.node_id, self.lease.priority)
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= next_lease:
                    next_lease = now + renew_s
                    self._lease_turn()
                if self._leading and not self.lease.is_leader:
                    self.on_lose("lease not renewed in time")
                if self._leading:
                    self._leader_turn()
                    self._stop.wait(POLL_S if self.drivers else IDLE_POLL_S)
                else:
                    self._stop.wait(max(0.0, min(next_lease - time.monotonic(), renew_s)))
        finally:
            self.lease.release()
            log.info("coordinator %s stopped", self.node_id)

    def _lease_turn(self) -> None:
        try:
            leader = self.lease.step()
        except REDIS_DOWN as exc:
            log.warning("Redis unreachable: %s", exc)
            leader = self.lease.is_leader
        if leader and not self._leading:
            log.info("%s is leader with %s", self.node_id, self.lease.fence)
            self._leading = True
            try:
                self.on_acquire()
            except FencedWriteError as exc:
                self.lease.step_down(str(exc))
                self.on_lose(str(exc))
        elif not leader and self._leading:
            self.on_lose("lease lost")

    def _leader_turn(self) -> None:
        try:
            self.tick()
        except FencedWriteError as exc:
            self.lease.step_down(str(exc))
            self.on_lose(str(exc))
        except REDIS_DOWN as exc:
            log.warning("Redis unreachable while leading: %s", exc)
            self._stop.wait(0.5)


def _optional_module(name: str):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None


def serve(settings: Settings, node_id: str | None = None, priority: int = 0, **kwargs) -> None:
    """Run a coordinator in the foreground until SIGTERM or SIGINT."""
    coordinator = Coordinator(settings, node_id, priority, **kwargs)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: coordinator.stop())
    coordinator.run()
