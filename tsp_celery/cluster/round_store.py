"""Rounds and units in the store: plans, unit results, base and best tours, round outcomes."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np

from tsp_celery.cluster.codec import decode_tour, encode_tour
from tsp_celery.cluster.events import ScriptEvent, script_event_keys
from tsp_celery.cluster.job import parse_record
from tsp_celery.cluster.lease import call_fenced
from tsp_celery.cluster.store_base import (
    SCRATCH_TTL_S,
    StoreBase,
    as_text,
    json_default,
    lua_number,
)
from tsp_celery.errors import ClusterError, JobNotFoundError


class StaleEpochError(ClusterError):
    """Raised when a worker's result belongs to an older epoch of the store."""


@dataclass(frozen=True)
class RoundInputs:
    """What closing a round reads: whether it is closed already, the job record (typed), the
    units' stored records and tours (None where a unit stored none), the round's base tour and
    the elite pool (shortest first; empty unless asked for)."""

    closed: bool
    record: dict
    units: dict[str, dict]
    tours: dict[str, np.ndarray | None]
    base: np.ndarray | None
    elite: list[np.ndarray]


class RoundStore(StoreBase):
    """A job's rounds: planned (fenced), their units' results (first write wins), the best
    tour (compare-and-set) and the closing outcome (fenced, once)."""

    SCRIPTS = ("PLAN_ROUND", "RECORD_UNIT", "COMMIT_BEST", "CLOSE_ROUND")

    def plan_round(self, job_id: str, round_no: int, round_record: dict, fence: str,
                   event: ScriptEvent | None = None) -> tuple[str, str]:
        """Record a planned round, snapshot its base tour and append ``event`` (its
        round_planned event). Returns ('ok', the event's stream id or '') or (the job's other
        status, '')."""
        keys = [self.keys.lease(), self.keys.job(job_id), self.keys.job_rounds(job_id),
                self.keys.job_best_tour(job_id), self.keys.round_base(job_id, round_no),
                *script_event_keys(self.keys, job_id)]
        args = [fence, round_no, json.dumps(round_record), f"{time.time():.6f}", SCRATCH_TTL_S,
                *ScriptEvent.args(event)]
        out = call_fenced(self._scripts["PLAN_ROUND"], keys, args, fence)
        status = as_text(out[0])
        if status != "ok":
            return status, ""
        if event is not None:
            event.logged(job_id, fence)
        return status, as_text(out[1])

    def close_round(self, job_id: str, round_no: int, outcome: dict, improved: bool,
                    fence: str) -> bool:
        """Close a round once; False if it was closed already (by the chord or the deadline)."""
        keys = [self.keys.lease(), self.keys.job(job_id), self.keys.job_rounds(job_id)]
        args = [fence, round_no, json.dumps(outcome), int(improved), f"{time.time():.6f}"]
        return bool(call_fenced(self._scripts["CLOSE_ROUND"], keys, args, fence))

    def record_unit(self, job_id: str, round_no: int, unit_id: str, summary: dict,
                    tour: np.ndarray | None, epoch: str = "") -> bool:
        """Store a unit's result; the first write wins. Returns whether this one was stored.

        With ``epoch`` (from the fence the unit came with), a result for an older epoch of the
        store is refused: StaleEpochError."""
        keys = [self.keys.job_units(job_id, round_no), self.keys.unit_tour(job_id, unit_id),
                self.keys.epoch()]
        raw = b"" if tour is None else encode_tour(tour)
        out = int(self._scripts["RECORD_UNIT"](
            keys=keys, args=[unit_id, json.dumps(summary, default=json_default), raw,
                             SCRATCH_TTL_S, epoch]))
        if out < 0:
            raise StaleEpochError(f"unit {unit_id} of job {job_id} was sent in epoch {epoch}; "
                                  f"the store lost its data since")
        return bool(out)

    def round_inputs(self, job_id: str, round_no: int, unit_ids: list[str], *,
                     elite: bool) -> RoundInputs:
        """Everything a close of round ``round_no`` reads, in one round trip (a merge on the
        leader's loop pays for each one); JobNotFoundError when the job has no record."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hexists(self.keys.job_rounds(job_id), f"{round_no}:merged")
        pipe.hgetall(self.keys.job(job_id))
        pipe.hgetall(self.keys.job_units(job_id, round_no))
        pipe.get(self.keys.round_base(job_id, round_no))
        if unit_ids:
            pipe.mget([self.keys.unit_tour(job_id, u) for u in unit_ids])
        if elite:
            pipe.zrange(self.keys.job_elite(job_id), 0, -1)
        replies = pipe.execute()
        closed, raw, units, base = replies[:4]
        if not raw:
            raise self.missing(job_id)
        tours = replies[4] if unit_ids else []
        return RoundInputs(
            bool(closed), parse_record(raw), {as_text(k): json.loads(v) for k, v in units.items()},
            {u: None if t is None else decode_tour(t) for u, t in zip(unit_ids, tours,
                                                                       strict=True)},
            None if base is None else decode_tour(base),
            [decode_tour(t) for t in replies[-1]] if elite else [])

    def unit_records(self, job_id: str, round_no: int) -> dict[str, dict]:
        raw = self.redis.hgetall(self.keys.job_units(job_id, round_no))
        return {as_text(k): json.loads(v) for k, v in raw.items()}

    def unit_ids(self, job_id: str, round_no: int) -> set[str]:
        """The units of a round that stored a result."""
        return {as_text(u) for u in self.redis.hkeys(self.keys.job_units(job_id, round_no))}

    def unit_reported(self, job_id: str, round_no: int, unit_id: str) -> bool:
        """Whether a unit of the round stored its result (one field: the round's other records
        stay in Redis, which keeps a unit's start O(1) however wide its round)."""
        return bool(self.redis.hexists(self.keys.job_units(job_id, round_no), unit_id))

    def unit_tour(self, job_id: str, unit_id: str) -> np.ndarray | None:
        return self._tour(self.keys.unit_tour(job_id, unit_id))

    def base_tour(self, job_id: str, round_no: int) -> np.ndarray | None:
        return self._tour(self.keys.round_base(job_id, round_no))

    def best_tour(self, job_id: str) -> np.ndarray | None:
        return self._tour(self.keys.job_best_tour(job_id))

    def drop_round_scratch(self, job_id: str, round_no: int,
                           unit_ids: list[str]) -> tuple[dict, int]:
        """Free a closed round's unit tours and base snapshot (the outcome is committed).

        Returns the job record and its elite pool's size as they are now, read in the same round
        trip: what the leader decides the next round from."""
        keys = [self.keys.unit_tour(job_id, u) for u in unit_ids]
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(self.keys.round_base(job_id, round_no), *keys)
        pipe.hgetall(self.keys.job(job_id))
        pipe.zcard(self.keys.job_elite(job_id))
        _, raw, pool = pipe.execute()
        if not raw:
            raise self.missing(job_id)
        return parse_record(raw), int(pool)

    def commit_best(self, job_id: str, tour: np.ndarray, length: float, round_no: int,
                    elapsed: float, proven: bool, engine: str, lamport: int = 0) -> bool | str:
        """Compare-and-set the best tour (the caller validated it and computed ``length``).

        True if committed, False if not strictly shorter, 'final' if the job is frozen.
        """
        keys = [self.keys.job(job_id), self.keys.job_best_tour(job_id)]
        args = [lua_number(length), encode_tour(tour), round_no, f"{elapsed:.6f}",
                int(proven), engine, int(lamport)]
        out = as_text(self._scripts["COMMIT_BEST"](keys=keys, args=args))
        if out == "missing":
            raise JobNotFoundError(f"no job {job_id!r}")
        if out == "final":
            return out
        committed = bool(int(out))
        if committed:
            self.replicate(f"job {job_id}: best tour {lua_number(length)}")
        return committed

    def rounds(self, job_id: str) -> dict[int, dict]:
        """Round number -> {"plan": record written when planned, "merged": outcome or None}."""
        out: dict[int, dict] = {}
        for field, value in self.redis.hgetall(self.keys.job_rounds(job_id)).items():
            name = as_text(field)
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
