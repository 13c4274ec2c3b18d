"""The job store: instances, job records, unit results, best tours and rounds in Redis.

Every multi-key change is one Lua script from ``scripts.py``; control-state writes take the
leader's ``fence`` (see that module for which writes are fenced and why).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
from redis.exceptions import ResponseError

from tsp_celery.cluster import scripts
from tsp_celery.cluster.admission import check_size, limit_fields, parse_params
from tsp_celery.cluster.codec import (
    decode_problem,
    decode_tour,
    encode_tour,
    instance_body,
    pack_body,
)
from tsp_celery.cluster.job import JobParams, JobStatus, parse_record
from tsp_celery.cluster.keys import Keys
from tsp_celery.cluster.lease import call_fenced, new_epoch_id
from tsp_celery.errors import (
    ClusterError,
    InstanceError,
    JobLostError,
    JobNotFoundError,
    LimitExceededError,
)
from tsp_celery.problem import Problem
from tsp_celery.settings import Settings
from tsp_celery.solver import ELITE_SIZE

log = logging.getLogger(__name__)

# Intermediate data (unit tours, round bases, delivery counters) is needed for one round only;
# this TTL just keeps it from leaking when a round is abandoned (e.g. a leader change).
SCRATCH_TTL_S = 6 * 3600
# Job ids: "<store epoch>-<random>", so a job the store lost is told apart from an unknown one.
JOB_ID = re.compile(r"([0-9a-f]{8})-[0-9a-f]{12}")
# Higher priority first, then older first: score = created_at - priority * PRIORITY_STEP.
PRIORITY_STEP = 1e10


class StaleEpochError(ClusterError):
    """Raised when a worker's result belongs to an older epoch of the store."""


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _json_default(value: Any) -> Any:
    """numpy scalars in solver summaries become plain numbers."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON-able: {type(value).__name__}")


def _length_text(length: float) -> str:
    """A length as Lua's tonumber reads it back exactly (integers without a dot)."""
    return str(int(length)) if float(length).is_integer() else repr(float(length))


class JobStore:
    """Typed access to one deployment's jobs (everything under ``keys.prefix``)."""

    def __init__(self, redis, keys: Keys, settings: Settings) -> None:
        self.redis = redis
        self.keys = keys
        self.settings = settings
        s = {name: redis.register_script(getattr(scripts, name)) for name in (
            "SUBMIT", "ADMIT", "PLAN_ROUND", "RECORD_UNIT", "COMMIT_BEST", "CLOSE_ROUND",
            "FINISH", "CANCEL", "OFFER_ELITE")}
        self._scripts = s

    # -- submission -----------------------------------------------------------------------------
    def check_limits(self, problem: Problem, params: JobParams) -> tuple[bytes, int]:
        """(instance blob, its size decompressed), or JobRefused before anything is written:
        the client's side of the checks the SUBMIT script and admission repeat."""
        parse_params(params.to_dict(), self.settings)
        body = instance_body(problem)
        check_size(self.settings, problem.n, len(body))
        return pack_body(body), len(body)

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

    def load_problem(self, content_hash: str) -> Problem:
        """The stored instance, inflated with the max_instance_bytes cap."""
        blob = self.redis.get(self.keys.instance(content_hash))
        if blob is None:
            raise InstanceError(f"instance {content_hash[:12]} is not in the store (expired?)")
        return decode_problem(blob, self.settings.max_instance_bytes)

    # -- durability -----------------------------------------------------------------------------
    def replicate(self, what: str) -> bool:
        """WAIT until ``settings.wait_replicas`` replicas hold every write made so far (True at
        once with 0). A shortfall is logged and returns False: the commit is not durable yet.

        WAIT counts the offset of its own connection's last write, and pooled calls may run on
        another connection than the commit did: a small write first makes the WAIT cover every
        earlier write, whichever connection made it."""
        wanted = self.settings.wait_replicas
        if wanted <= 0:
            return True
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(self.keys.replication_mark(), f"{time.time():.6f}", px=SCRATCH_TTL_S * 1000)
        pipe.execute_command("WAIT", wanted, self.settings.wait_timeout_ms)
        acked = int(pipe.execute()[1])
        if acked < wanted:
            log.warning("%s: only %d of %d replica(s) confirmed within %d ms: not durable yet "
                        "(a failover now could lose it)", what, acked, wanted,
                        self.settings.wait_timeout_ms)
        return acked >= wanted

    # -- the store's epoch ----------------------------------------------------------------------
    def epoch(self) -> str:
        """The store's epoch id, created now if the store has none (first write wins)."""
        self.redis.set(self.keys.epoch(), new_epoch_id(), nx=True)
        return _text(self.redis.get(self.keys.epoch()))

    def missing(self, job_id: str) -> JobNotFoundError:
        """The error for a job without a record: lost with the store's data when its id names
        another epoch than the store's (job ids are ``<epoch>-<random>``), else unknown."""
        match = JOB_ID.fullmatch(job_id)
        if match and match.group(1) != _text(self.redis.get(self.keys.epoch())):
            return JobLostError(f"job {job_id} lost by the store (Redis restarted without its "
                                f"data): resubmit")
        return JobNotFoundError(f"no job {job_id!r} (unknown, or expired after retention)")

    # -- records --------------------------------------------------------------------------------
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
        return [_text(v) for v in read(self.keys.jobs(), 0, limit - 1)]

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
            if not JobStatus(_text(status)).is_final or self.redis.ttl(self.keys.job(job_id)) >= 0:
                continue
            left = int(self.settings.retention_s - (now - float(_text(finished) or now)))
            rounds = _text(self.redis.hget(self.keys.job(job_id), "round")) or "0"
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
        return [_text(v) for v in self.redis.zrange(self.keys.jobs_queued(), 0, limit - 1)]

    def active_ids(self) -> list[str]:
        return sorted(_text(v) for v in self.redis.smembers(self.keys.jobs_active()))

    # -- leader writes (fenced) -----------------------------------------------------------------
    def admit(self, job_id: str, fence: str, node: str) -> str:
        keys = [self.keys.lease(), self.keys.job(job_id), self.keys.jobs_queued(),
                self.keys.jobs_active()]
        out = call_fenced(self._scripts["ADMIT"], keys, [fence, job_id, f"{time.time():.6f}",
                                                         node], fence)
        return _text(out)

    def plan_round(self, job_id: str, round_no: int, round_record: dict, fence: str) -> str:
        """Record a planned round and snapshot its base tour; 'ok' or the job's other status."""
        keys = [self.keys.lease(), self.keys.job(job_id), self.keys.job_rounds(job_id),
                self.keys.job_best_tour(job_id), self.keys.round_base(job_id, round_no)]
        args = [fence, round_no, json.dumps(round_record), f"{time.time():.6f}", SCRATCH_TTL_S]
        return _text(call_fenced(self._scripts["PLAN_ROUND"], keys, args, fence))

    def close_round(self, job_id: str, round_no: int, outcome: dict, improved: bool,
                    fence: str) -> bool:
        """Close a round once; False if it was closed already (by the chord or the deadline)."""
        keys = [self.keys.lease(), self.keys.job(job_id), self.keys.job_rounds(job_id)]
        args = [fence, round_no, json.dumps(outcome), int(improved), f"{time.time():.6f}"]
        return bool(call_fenced(self._scripts["CLOSE_ROUND"], keys, args, fence))

    def offer_elite(self, job_id: str, tours: Sequence[tuple[float, np.ndarray]], fence: str,
                    size: int = ELITE_SIZE) -> int:
        """Add (length, tour) pairs to the job's elite pool, which keeps the ``size`` shortest
        distinct lengths; returns the pool's size (0 once the job is final).

        The caller validated the tours and computed their exact lengths. Offering the same tours
        again changes nothing, so a round closed twice cannot corrupt the pool.
        """
        keys = [self.keys.lease(), self.keys.job(job_id), self.keys.job_elite(job_id)]
        args: list[Any] = [fence, size]
        for length, tour in tours:
            args += [_length_text(length), encode_tour(tour)]
        return int(call_fenced(self._scripts["OFFER_ELITE"], keys, args, fence))

    def finish(self, job_id: str, status: JobStatus, fence: str, error: str = "") -> str:
        """Move a job to a final status (once) and start its retention clock.

        Reads only the round count (a poison record may hold fields nothing else can parse)."""
        raw = _text(self.redis.hget(self.keys.job(job_id), "round")) or "0"
        rounds = int(raw) if raw.isdigit() else 0
        keys = [self.keys.lease(), self.keys.job(job_id), self.keys.jobs_active(),
                self.keys.jobs_queued(), *self._job_keys(job_id, rounds)]
        args = [fence, job_id, status.value, f"{time.time():.6f}", error[:2000],
                self.settings.retention_s]
        final = _text(call_fenced(self._scripts["FINISH"], keys, args, fence))
        self.replicate(f"job {job_id}: {final}")
        return final

    def _job_keys(self, job_id: str, rounds: int) -> list[str]:
        k = self.keys
        out = [k.job_best_tour(job_id), k.job_elite(job_id), k.job_rounds(job_id),
               k.job_events(job_id), k.job_lock(job_id)]
        return out + [k.job_units(job_id, r) for r in range(1, rounds + 1)]

    # -- client writes --------------------------------------------------------------------------
    def cancel(self, job_id: str) -> str:
        """Cancel a queued job at once, or ask the leader to stop a running one."""
        keys = [self.keys.job(job_id), self.keys.jobs_queued(), self.keys.job_events(job_id)]
        status = _text(self._scripts["CANCEL"](
            keys=keys, args=[job_id, f"{time.time():.6f}", self.settings.retention_s]))
        if status == "missing":
            raise self.missing(job_id)
        return status

    # -- units, tours, rounds (workers and the merge) -------------------------------------------
    def record_unit(self, job_id: str, round_no: int, unit_id: str, summary: dict,
                    tour: np.ndarray | None, epoch: str = "") -> bool:
        """Store a unit's result; the first write wins. Returns whether this one was stored.

        With ``epoch`` (from the fence the unit came with), a result for an older epoch of the
        store is refused: StaleEpochError."""
        keys = [self.keys.job_units(job_id, round_no), self.keys.unit_tour(job_id, unit_id),
                self.keys.epoch()]
        raw = b"" if tour is None else encode_tour(tour)
        out = int(self._scripts["RECORD_UNIT"](
            keys=keys, args=[unit_id, json.dumps(summary, default=_json_default), raw,
                             SCRATCH_TTL_S, epoch]))
        if out < 0:
            raise StaleEpochError(f"unit {unit_id} of job {job_id} was sent in epoch {epoch}; "
                                  f"the store lost its data since")
        return bool(out)

    def unit_records(self, job_id: str, round_no: int) -> dict[str, dict]:
        raw = self.redis.hgetall(self.keys.job_units(job_id, round_no))
        return {_text(k): json.loads(v) for k, v in raw.items()}

    def unit_ids(self, job_id: str, round_no: int) -> set[str]:
        """The units of a round that stored a result."""
        return {_text(u) for u in self.redis.hkeys(self.keys.job_units(job_id, round_no))}

    def unit_reported(self, job_id: str, round_no: int, unit_id: str) -> bool:
        """Whether a unit of the round stored its result (one field: the round's other records
        stay in Redis, which keeps a unit's start O(1) however wide its round)."""
        return bool(self.redis.hexists(self.keys.job_units(job_id, round_no), unit_id))

    def unit_tour(self, job_id: str, unit_id: str) -> np.ndarray | None:
        return self._tour(self.keys.unit_tour(job_id, unit_id))

    def unit_tours(self, job_id: str, unit_ids: list[str]) -> dict[str, np.ndarray | None]:
        """Several units' tours in one round trip (None where a unit stored none)."""
        if not unit_ids:
            return {}
        raws = self.redis.mget([self.keys.unit_tour(job_id, u) for u in unit_ids])
        return {u: None if raw is None else decode_tour(raw)
                for u, raw in zip(unit_ids, raws, strict=True)}

    def base_tour(self, job_id: str, round_no: int) -> np.ndarray | None:
        return self._tour(self.keys.round_base(job_id, round_no))

    def best_tour(self, job_id: str) -> np.ndarray | None:
        return self._tour(self.keys.job_best_tour(job_id))

    def elite_size(self, job_id: str) -> int:
        """How many tours the job's elite pool holds."""
        return int(self.redis.zcard(self.keys.job_elite(job_id)))

    def elite_tours(self, job_id: str) -> list[np.ndarray]:
        """The job's elite pool, shortest first (empty before its first island round)."""
        return [decode_tour(raw) for raw in self.redis.zrange(self.keys.job_elite(job_id), 0, -1)]

    def store_part(self, job_id: str, index: int, cycle: np.ndarray) -> None:
        """Keep a part's tour until the first tour is joined from all parts (scratch TTL)."""
        self.redis.set(self.keys.initial_part(job_id, index), encode_tour(cycle),
                       ex=SCRATCH_TTL_S)

    def take_parts(self, job_id: str, count: int) -> list[np.ndarray | None]:
        """The tours of parts 0..count-1 (None where one is missing), removing them."""
        keys = [self.keys.initial_part(job_id, i) for i in range(count)]
        raws = self.redis.mget(keys)
        self.redis.delete(*keys)
        return [None if raw is None else decode_tour(raw) for raw in raws]

    def _tour(self, key: str) -> np.ndarray | None:
        raw = self.redis.get(key)
        return None if raw is None else decode_tour(raw)

    def drop_round_scratch(self, job_id: str, round_no: int, unit_ids: list[str]) -> None:
        """Free a closed round's unit tours and base snapshot (the outcome is committed)."""
        keys = [self.keys.unit_tour(job_id, u) for u in unit_ids]
        self.redis.delete(self.keys.round_base(job_id, round_no), *keys)

    def commit_best(self, job_id: str, tour: np.ndarray, length: float, round_no: int,
                    elapsed: float, proven: bool, engine: str, lamport: int = 0) -> bool | str:
        """Compare-and-set the best tour (the caller validated it and computed ``length``).

        True if committed, False if not strictly shorter, 'final' if the job is frozen.
        """
        keys = [self.keys.job(job_id), self.keys.job_best_tour(job_id)]
        args = [_length_text(length), encode_tour(tour), round_no, f"{elapsed:.6f}",
                int(proven), engine, int(lamport)]
        out = _text(self._scripts["COMMIT_BEST"](keys=keys, args=args))
        if out == "missing":
            raise JobNotFoundError(f"no job {job_id!r}")
        if out == "final":
            return out
        committed = bool(int(out))
        if committed:
            self.replicate(f"job {job_id}: best tour {_length_text(length)}")
        return committed

    def rounds(self, job_id: str) -> dict[int, dict]:
        """Round number -> {"plan": record written when planned, "merged": outcome or None}."""
        out: dict[int, dict] = {}
        for field, value in self.redis.hgetall(self.keys.job_rounds(job_id)).items():
            name = _text(field)
            round_no, _, part = name.partition(":")
            entry = out.setdefault(int(round_no), {"plan": None, "merged": None})
            entry["merged" if part == "merged" else "plan"] = json.loads(value)
        return dict(sorted(out.items()))

    def round_plan(self, job_id: str, round_no: int) -> dict | None:
        """The record written when round ``round_no`` was planned (None if it never was).

        One field, not the whole rounds hash: a merge reads its round's plan, and a long
        decomposition job has hundreds of rounds."""
        return self._round_field(job_id, str(round_no))

    def round_merged(self, job_id: str, round_no: int) -> dict | None:
        """The outcome written when round ``round_no`` was closed (None while it is open)."""
        return self._round_field(job_id, f"{round_no}:merged")

    def _round_field(self, job_id: str, field: str) -> dict | None:
        raw = self.redis.hget(self.keys.job_rounds(job_id), field)
        return None if raw is None else json.loads(raw)

    # -- delivery counter and cached bounds -----------------------------------------------------
    def start_attempt(self, task_id: str) -> tuple[int, int]:
        """Count one run of a Celery task (redeliveries keep the id): returns (this run's
        number, earlier runs that never finished, i.e. died with their process)."""
        key = self.keys.attempts(task_id)
        pipe = self.redis.pipeline()
        pipe.hincrby(key, "started", 1)
        pipe.hget(key, "finished")
        pipe.expire(key, SCRATCH_TTL_S)
        started, finished, _ = pipe.execute()
        return int(started), int(started) - 1 - int(finished or 0)

    def end_attempt(self, task_id: str) -> None:
        """The run counted by ``start_attempt`` returned (whatever its outcome)."""
        self.redis.hincrby(self.keys.attempts(task_id), "finished", 1)

    def set_bound(self, content_hash: str, bound: dict) -> None:
        self.redis.set(self.keys.bound(content_hash), json.dumps(bound),
                       ex=self.settings.retention_s)

    def lease_value(self) -> str | None:
        """The leader lease's value now (the fence every control write must carry)."""
        return _text(self.redis.get(self.keys.lease()))

    def get_bound(self, content_hash: str) -> dict | None:
        raw = self.redis.get(self.keys.bound(content_hash))
        return None if raw is None else json.loads(raw)
