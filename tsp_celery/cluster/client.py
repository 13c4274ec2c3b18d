"""The client side of the cluster: submit, status, watch, result, cancel, list jobs and workers.

Used by the CLI, by ``tsp_celery.api.solve(..., cluster=url)`` and by tests. Clients never lead:
their only writes are the submit and cancel scripts and unfenced "submitted"/"cancelled" events.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any

import redis as redis_lib

from tsp_celery.cluster.connection import connect_settings
from tsp_celery.cluster.events import EventLog, EventType, wake_leader
from tsp_celery.cluster.job import JobParams, JobStatus
from tsp_celery.cluster.keys import Keys
from tsp_celery.cluster.lamport import LamportClock
from tsp_celery.cluster.lease import read_leader
from tsp_celery.cluster.redis_health import classify
from tsp_celery.cluster.store import JobStore
from tsp_celery.cluster.workers import live_workers
from tsp_celery.errors import ClusterError, JobFailedError, StoreRefusedError, TspCeleryError
from tsp_celery.problem import Problem, known_optimum
from tsp_celery.result import Result
from tsp_celery.settings import Settings

log = logging.getLogger(__name__)

# solve(): give up on a queued job (and cancel it) when no coordinator or no worker has been
# alive for this long — a synchronous caller would otherwise wait forever.
NOBODY_HOME_S = 15.0


def _shown_params(raw: Any) -> JobParams:
    """A job's parameters for display: a job refused for invalid ones still has a status, which
    shows every stored field that is valid on its own (defaults only for the others)."""
    stored = raw if isinstance(raw, Mapping) else {}
    valid: dict[str, Any] = {}
    for name, value in stored.items():
        try:
            JobParams.from_dict({**valid, name: value})
        except (TypeError, ValueError):
            continue
        valid[name] = value
    return JobParams.from_dict(valid)


class ClusterClient:
    """One deployment (Redis URL + key prefix), seen from a client."""

    def __init__(self, settings: Settings | None = None, *, redis_url: str | None = None,
                 redis=None) -> None:
        self.settings = settings or Settings.from_env(redis_url=redis_url)
        self.redis = redis if redis is not None else connect_settings(self.settings)
        self.keys = Keys(self.settings.prefix)
        self.store = JobStore(self.redis, self.keys, self.settings)
        self.events = EventLog(self.redis, self.keys)
        self.clock = LamportClock(f"client:{socket.gethostname()}:{os.getpid()}")

    # -- cluster facts --------------------------------------------------------------------------
    def leader(self) -> dict | None:
        """The live leader coordinator (node_id, term, ...), or None when no coordinator leads."""
        return read_leader(self.redis, self.keys)

    def workers(self) -> list[dict[str, Any]]:
        """Live workers: id, host, pid, slots, queues, units running now, last seen."""
        return live_workers(self.redis, self.keys)

    # -- jobs -----------------------------------------------------------------------------------
    def submit(self, problem: Problem, params: JobParams | Mapping[str, Any] | None = None) -> str:
        """Queue ``problem``; returns the job id. Works (and stays queued) with no coordinator."""
        params = JobParams.coerce(params)
        stamp = self.clock.tick()  # in the record too, so admission is stamped after it
        try:
            job_id = self.store.submit(problem, params, lamport=stamp)
        except redis_lib.RedisError as exc:
            raise _refused(exc, "the job was not queued") from exc
        try:
            self.events.append(job_id, EventType.SUBMITTED, self.clock.node_id, stamp,
                               {"name": problem.name, "n": problem.n,
                                "params": params.to_dict()})
        except redis_lib.RedisError as exc:  # queued without its first event: take it back
            self.store.withdraw(job_id)
            raise _refused(exc, "the job was not queued") from exc
        self.store.replicate(f"job {job_id}: queued")  # with replicas: returns once they have it
        return job_id

    def status(self, job_id: str) -> dict[str, Any]:
        """Stable keys: job_id, status, best_length, round, elapsed, then details."""
        rec = self.store.record(job_id)
        params = _shown_params(rec["params"]).to_dict()
        now = time.time()
        started = rec.get("admitted_at")
        elapsed = 0.0 if started is None else (rec.get("finished_at") or now) - started
        best = rec.get("best_length")
        gap = None
        if best is not None and params["target"]:
            gap = 100.0 * (best - params["target"]) / params["target"]
        return {
            "job_id": job_id,
            "status": rec["status"],
            "best_length": best,
            "round": rec.get("round", 0),
            "elapsed": round(max(elapsed, 0.0), 3),
            "name": rec.get("name", ""),
            "n": rec.get("n"),
            "rounds_done": rec.get("rounds_done", 0),
            "time_s": params["time_s"],
            "target": params["target"],
            "gap_pct": gap,
            "priority": params["priority"],
            "proven_optimal": self._proven_optimal(rec),
            "cancel_requested": rec["cancel_requested"],
            "cancel_round": rec.get("cancel_round"),
            "created_at": rec.get("created_at"),
            "admitted_at": started,
            "finished_at": rec.get("finished_at"),
            "error": rec.get("error") or None,
        }

    def _proven_optimal(self, rec: dict[str, Any]) -> bool:
        """Proven by the exact unit, or because the best tour meets a proven lower bound."""
        if rec["proven_optimal"]:
            return True
        best = rec.get("best_length")
        bound = self.store.get_bound(rec["instance"]) if best is not None else None
        return bool(bound and bound.get("proven") and best <= bound["value"])

    def jobs(self, limit: int = 50) -> list[dict[str, Any]]:
        """Status of the most recent jobs; ids whose records expired are dropped from the index."""
        out, gone = [], []
        for job_id in self.store.job_ids(limit):
            try:
                out.append(self.status(job_id))
            except TspCeleryError:
                gone.append(job_id)
        self.store.forget(gone)
        return out

    def cancel(self, job_id: str) -> str:
        """Cancel: a queued job at once; a running one within its current round."""
        status = self.store.cancel(job_id)
        if status == JobStatus.CANCELLED.value:
            self.events.emit(job_id, EventType.CANCELLED, self.clock, {"by": "client"})
        else:
            wake_leader(self.redis, self.keys)  # a running job's round is closed at once
        return status

    def result(self, job_id: str) -> Result:
        """The job's best tour as a Result (a running job gives its best so far)."""
        rec = self.store.record(job_id)
        if rec["status"] == JobStatus.FAILED.value:
            raise JobFailedError(f"job {job_id} failed: {rec.get('error') or 'no reason given'}")
        tour = self.store.best_tour(job_id)
        if tour is None:
            raise TspCeleryError(f"job {job_id} is {rec['status']} and has no tour yet")
        params = JobParams.from_dict(rec["params"])
        status = self.status(job_id)
        rounds = self.store.rounds(job_id)
        trace = [(o["at"], o["best_after"]) for o in
                 (r["merged"] for r in rounds.values() if r["merged"]) if o.get("improved")]
        best_at = rec.get("best_at") or 0.0
        if not trace or trace[-1][1] != rec["best_length"]:
            trace.append((best_at, rec["best_length"]))
        bound = self.store.get_bound(rec["instance"]) or {}
        return Result(
            tour=tour, length=rec["best_length"], proven_optimal=self._proven_optimal(rec),
            time_to_best=best_at, elapsed=status["elapsed"], engine=rec.get("engine", ""),
            seed=params.seed, trace=sorted(trace), lower_bound=bound.get("value"),
            lower_bound_proven=bool(bound.get("proven", False)),
            optimum=params.target if params.target is not None
            else known_optimum(rec.get("name", ""), rec.get("n") or 0),
            name=rec.get("name", ""),
            stats={"job_id": job_id, "status": rec["status"], "rounds": rec.get("rounds_done", 0),
                   "cluster": True},
        )

    # -- waiting --------------------------------------------------------------------------------
    def wait(self, job_id: str, on_progress: Callable[[dict], None] | None = None, *,
             poll_s: float = 0.5, timeout_s: float | None = None,
             give_up_unattended: bool = False) -> dict[str, Any]:
        """Wait until the job is final; returns its status. ``on_progress(status)`` is called
        on every event of the job and at least every ``poll_s``.

        Waits block on the job's event stream, so the end is seen as soon as it is logged.
        With ``give_up_unattended``, a job still queued while no coordinator or no worker has
        been alive for NOBODY_HOME_S is cancelled and ClusterError raised.
        """
        started = time.monotonic()
        stream = self.keys.job_events(job_id)
        newest = self.redis.xrevrange(stream, count=1)
        last_id = newest[0][0] if newest else "0-0"
        unattended_since: float | None = None
        while True:
            status = self.status(job_id)
            if on_progress is not None:
                on_progress(status)
            if JobStatus(status["status"]).is_final:
                return status
            now = time.monotonic()
            if give_up_unattended and status["status"] == JobStatus.QUEUED.value:
                missing = self.missing_service()
                if missing is None:
                    unattended_since = None
                elif unattended_since is None:
                    unattended_since = now
                elif now - unattended_since > NOBODY_HOME_S:
                    self.cancel(job_id)
                    raise ClusterError(f"{missing}: job {job_id} was cancelled")
            if timeout_s is not None and now - started > timeout_s:
                raise TimeoutError(f"job {job_id} still {status['status']} after {timeout_s} s")
            reply = self.redis.xread({stream: last_id}, block=max(int(poll_s * 1000), 1))
            for _name, entries in reply or []:
                if entries:
                    last_id = entries[-1][0]

    def missing_service(self) -> str | None:
        """'no coordinator is alive' / 'no worker is alive', or None when both are there."""
        if self.leader() is None:
            return "no coordinator is alive (start `tsp-celery coordinator`)"
        if not self.workers():
            return "no worker is alive (start `celery -A tasks worker`)"
        return None

    def solve(self, problem: Problem, params: JobParams | Mapping[str, Any] | None = None,
              on_progress: Callable[[dict], None] | None = None) -> Result:
        """Submit, wait for the end, return the Result (JobFailedError if the job failed)."""
        job_id = self.submit(problem, params)
        self.wait(job_id, on_progress, give_up_unattended=True)
        return self.result(job_id)


def _refused(exc: Exception, what: str) -> Exception:
    """A Redis refusal as the client should see it: which refusal, and that nothing stayed."""
    state = classify(exc)
    if state is None:
        return exc
    if isinstance(exc, redis_lib.ConnectionError | redis_lib.TimeoutError):
        return ClusterError(f"Redis is {state} ({exc}): {what}")
    return StoreRefusedError(f"the store refused the write, Redis is {state} ({exc}): {what}")
