"""Job records and the queue: submit, admit, cancel, finish, retention."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from redis.exceptions import ResponseError

from tsp_celery.cluster.admission import limit_fields
from tsp_celery.cluster.codec import encode_tour
from tsp_celery.cluster.events import ScriptEvent, script_event_keys
from tsp_celery.cluster.instance_store import InstanceStore
from tsp_celery.cluster.job import JobParams, JobStatus, parse_record
from tsp_celery.cluster.lease import call_fenced
from tsp_celery.cluster.store_base import as_text, lua_number
from tsp_celery.errors import LimitExceededError
from tsp_celery.problem import Problem
from tsp_celery.solver import UnitResult

# Higher priority first, then older first: score = created_at - priority * PRIORITY_STEP.
PRIORITY_STEP = 1e10


class JobQueue(InstanceStore):
    """Job records, the job index, the priority queue and the active set."""

    SCRIPTS = ("SUBMIT", "ADMIT", "FINISH", "UNIT_FINISH", "CANCEL")

    def submit(self, problem: Problem, params: JobParams, *, job_id: str | None = None,
               lamport: int = 0) -> str:
        """Store the instance once (by content hash) and queue a new job; returns its id.

        LimitExceededError (nothing stored) when the job breaks a limit: this client's, or the
        cluster's as its coordinators published them (checked inside SUBMIT)."""
        blob, body_bytes = self.check_limits(problem, params)
        job_id = job_id or f"{self.epoch()}-{uuid.uuid4().hex[:12]}"
        digest = problem.content_hash()
        now = time.time()
        if self.redis.exists(self.keys.instance(digest)):
            blob = b""  # already stored: do not ship it again
        record = {"job_id": job_id, "status": JobStatus.QUEUED.value, "name": problem.name,
                  "n": problem.n, "instance": digest, "params": json.dumps(params.to_dict()),
                  "priority": params.priority, "created_at": f"{now:.6f}", "round": 0,
                  "rounds_done": 0, "stall": 0, "lamport": lamport}
        limits = limit_fields(self.settings)
        args: list[Any] = [blob, self.settings.retention_s, job_id, f"{now:.6f}",
                           now - params.priority * PRIORITY_STEP, body_bytes,
                           limits["max_nodes"], limits["max_instance_bytes"],
                           limits["max_job_seconds"], limits["max_active_jobs"]]
        for name, value in record.items():
            args += [name, value]
        keys = [self.keys.instance(digest), self.keys.job(job_id), self.keys.jobs(),
                self.keys.jobs_queued(), self.keys.jobs_active(), self.keys.limits()]
        try:
            self._scripts["SUBMIT"](keys=keys, args=args)
        except ResponseError as exc:
            text = str(exc)
            if text.startswith("LIMIT "):
                raise LimitExceededError(f"refused by the cluster: {text[6:]}") from None
            raise
        return job_id

    def withdraw(self, job_id: str) -> None:
        """Undo a submit whose follow-up failed: the record and its index entries go (commands
        Redis still runs when it refuses writes for lack of memory)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(self.keys.jobs_queued(), job_id)
        pipe.zrem(self.keys.jobs(), job_id)
        pipe.delete(self.keys.job(job_id), self.keys.job_events(job_id))
        pipe.execute()

    def record(self, job_id: str) -> dict[str, Any]:
        """The typed job record; JobNotFoundError when there is none (JobLostError when the
        store lost it)."""
        raw = self.redis.hgetall(self.keys.job(job_id))
        if not raw:
            raise self.missing(job_id)
        return parse_record(raw)

    def job_ids(self, limit: int = 100, *, oldest_first: bool = False) -> list[str]:
        """Most recent job ids first (or the oldest first)."""
        read = self.redis.zrange if oldest_first else self.redis.zrevrange
        return [as_text(v) for v in read(self.keys.jobs(), 0, limit - 1)]

    def purge(self, limit: int = 1000) -> dict[str, int]:
        """Retention now: forget index entries of expired jobs, and put a finished job's keys
        that carry no expiry (finished before retention was kept per job) on the retention
        clock, counted from its end. Returns {"forgotten": n, "expiring": m}."""
        now = time.time()
        forgotten, expiring = [], 0
        for job_id in self.job_ids(limit, oldest_first=True):
            status, finished = self.redis.hmget(self.keys.job(job_id), "status", "finished_at")
            if status is None:
                forgotten.append(job_id)
                continue
            final = JobStatus(as_text(status)).is_final
            if not final or self.redis.ttl(self.keys.job(job_id)) >= 0:
                continue
            left = int(self.settings.retention_s - (now - float(as_text(finished) or now)))
            rounds = as_text(self.redis.hget(self.keys.job(job_id), "round")) or "0"
            keys = [self.keys.job(job_id), *self._job_keys(job_id, int(rounds))]
            pipe = self.redis.pipeline(transaction=False)
            for key in keys:
                pipe.expire(key, max(left, 1))
            pipe.execute()
            expiring += 1
        self.forget(forgotten)
        return {"forgotten": len(forgotten), "expiring": expiring}

    def forget(self, job_ids: list[str]) -> None:
        """Drop ids whose records have expired from the job index."""
        if job_ids:
            self.redis.zrem(self.keys.jobs(), *job_ids)

    def queued_ids(self, limit: int = 100) -> list[str]:
        """Queued jobs in admission order (priority, then age)."""
        return [as_text(v) for v in self.redis.zrange(self.keys.jobs_queued(), 0, limit - 1)]

    def active_ids(self) -> list[str]:
        return sorted(as_text(v) for v in self.redis.smembers(self.keys.jobs_active()))

    def admit(self, job_id: str, fence: str, node: str,
              event: ScriptEvent | None = None) -> tuple[str, dict[str, Any] | None]:
        """Admit a queued job, appending ``event`` (its admitted event) if it is admitted now.
        Returns the status after the call and, when admitted now, the typed record."""
        keys = [self.keys.lease(), self.keys.job(job_id), self.keys.jobs_queued(),
                self.keys.jobs_active(), *script_event_keys(self.keys, job_id)]
        args = [fence, job_id, f"{time.time():.6f}", node, *ScriptEvent.args(event)]
        out = call_fenced(self._scripts["ADMIT"], keys, args, fence)
        status = as_text(out[0])
        if len(out) < 2:  # not admitted now (maybe running already)
            return status, None
        if event is not None:
            event.logged(job_id, fence)
        flat = out[1]
        return status, parse_record(dict(zip(flat[::2], flat[1::2], strict=True)))

    def finish(self, job_id: str, status: JobStatus, fence: str, error: str = "",
               event: ScriptEvent | None = None, rounds: int | None = None) -> str:
        """Move a job to a final status (once), start its retention clock and append ``event``
        (its final event: appended whatever the status ends as).

        ``rounds``: the job's round count, when the caller knows it (its driver plans them);
        else only that is read (a poison record may hold fields nothing else can parse)."""
        if rounds is None:
            raw = as_text(self.redis.hget(self.keys.job(job_id), "round")) or "0"
            rounds = int(raw) if raw.isdigit() else 0
        keys = [self.keys.lease(), self.keys.job(job_id), self.keys.jobs_active(),
                self.keys.jobs_queued(), *script_event_keys(self.keys, job_id),
                *self._job_keys(job_id, rounds)]
        args = [fence, job_id, status.value, f"{time.time():.6f}", error[:2000],
                self.settings.retention_s, *ScriptEvent.args(event)]
        final = as_text(call_fenced(self._scripts["FINISH"], keys, args, fence))
        if event is not None:
            event.logged(job_id, fence)
        self.replicate(f"job {job_id}: {final}")
        return final

    def finish_by_unit(self, job_id: str, round_no: int, result: UnitResult, *, elapsed: float,
                       fence: str, improved: ScriptEvent, merged: ScriptEvent,
                       done: ScriptEvent) -> str:
        """Let a unit whose whole tour ends the job (the job's target met, or proven optimal)
        commit it, close its round and finish the job as done, with their events, in one fenced
        script: see UNIT_FINISH (it appends ``improved`` only when the tour is the new best, and
        adds to the events' data what it decides: the best length, whether it improved).

        ``result.length`` must be the tour's exact length. Returns 'done', or why nothing
        changed; FencedWriteError when ``fence`` is not the lease any more."""
        outcome = {"round": round_no, "kind": result.kind, "closer": "worker",
                   "received": [result.unit_id], "missing": [], "failed": {},
                   "candidate": result.length, "at": round(elapsed, 3), "merged_at": time.time(),
                   "error": "", "lamport": merged.lamport}
        k = self.keys
        keys = [k.lease(), k.job(job_id), k.jobs_active(), k.jobs_queued(),
                k.job_best_tour(job_id), k.job_rounds(job_id), *script_event_keys(k, job_id),
                *self._job_keys(job_id, round_no)]
        events = (improved, merged, done)
        args = [fence, job_id, round_no, lua_number(result.length), encode_tour(result.tour),
                f"{elapsed:.6f}", int(result.proven_optimal), result.engine,
                f"{time.time():.6f}", self.settings.retention_s,
                json.dumps(outcome, separators=(",", ":")),
                *(arg for event in events for arg in ScriptEvent.args(event))]
        out = call_fenced(self._scripts["UNIT_FINISH"], keys, args, fence)
        status = as_text(out[0])
        if status == "done":
            for event, entry_id in zip(events, out[1:], strict=True):
                if as_text(entry_id):
                    event.logged(job_id, fence)
            self.replicate(f"job {job_id}: done by unit {result.unit_id}")
        return status

    def _job_keys(self, job_id: str, rounds: int) -> list[str]:
        k = self.keys
        out = [k.job_best_tour(job_id), k.job_elite(job_id), k.job_rounds(job_id),
               k.job_events(job_id), k.job_lock(job_id)]
        return out + [k.job_units(job_id, r) for r in range(1, rounds + 1)]

    def cancel(self, job_id: str) -> str:
        """Cancel a queued job at once, or ask the leader to stop a running one."""
        keys = [self.keys.job(job_id), self.keys.jobs_queued(), self.keys.job_events(job_id)]
        status = as_text(self._scripts["CANCEL"](
            keys=keys, args=[job_id, f"{time.time():.6f}", self.settings.retention_s]))
        if status == "missing":
            raise self.missing(job_id)
        return status
