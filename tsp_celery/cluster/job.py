"""What a cluster job is: its status values, its parameters, and its record read back from Redis."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from enum import Enum
from typing import Any

from tsp_celery.plan.stop import AnyOf, MaxRuntime, NoImprovement, StoppingCriterion, TargetLength


class JobStatus(str, Enum):
    """Life cycle of a job; stored as text in the job record."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED})


@dataclass(frozen=True)
class JobParams:
    """What a client asks for: the budget and the stop criteria of one job.

    ``stall_rounds``: stop after this many merged rounds without improvement (None: use the whole
    time budget). ``target``: stop once a tour this short is committed; also the optimum the gap
    is measured against. ``bound``: compute a Held-Karp lower bound beside the search.
    ``merge``: merge each round's tours with the elite pool (False: keep the shortest as is).
    """

    time_s: float = 10.0
    target: float | None = None
    priority: int = 0
    seed: int = 0
    stall_rounds: int | None = None
    bound: bool = False
    merge: bool = True

    def __post_init__(self) -> None:
        if not self.time_s > 0:
            raise ValueError("Expected time_s > 0.")
        if self.target is not None and not self.target > 0:
            raise ValueError("Expected target > 0.")
        if self.stall_rounds is not None and self.stall_rounds < 1:
            raise ValueError("Expected stall_rounds >= 1.")
        if self.seed < 0:
            raise ValueError("Expected seed >= 0.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def stop_criterion(self) -> StoppingCriterion:
        """The record's stop fields as the round loop reads them (target, stall, time)."""
        found: list[StoppingCriterion] = []
        if self.target is not None:
            found.append(TargetLength(self.target))
        if self.stall_rounds is not None:
            found.append(NoImprovement(self.stall_rounds))
        return AnyOf([*found, MaxRuntime(self.time_s)])

    @classmethod
    def from_stop(cls, stop: StoppingCriterion, **others: Any) -> JobParams:
        """Params whose stop fields hold ``stop`` (its MaxRuntime is the time budget)."""
        d = stop.to_dict()
        return cls(time_s=d.get("max_runtime", cls.time_s), target=d.get("target"),
                   stall_rounds=d.get("no_improvement"), **others)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> JobParams:
        """Known keys only, so a record written by a newer client still reads."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names and v is not None})

    @classmethod
    def coerce(cls, params: JobParams | Mapping[str, Any] | None) -> JobParams:
        if params is None:
            return cls()
        return params if isinstance(params, cls) else cls.from_dict(params)


def _num(text: str | None) -> int | float | None:
    if text is None or text == "":
        return None
    value = float(text)
    return int(value) if value.is_integer() and "." not in text and "e" not in text else value


def parse_record(raw: Mapping[bytes | str, bytes | str]) -> dict[str, Any]:
    """The job hash as typed values (numbers as numbers, params as a dict, flags as bools)."""
    rec = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
           for k, v in raw.items()}
    out: dict[str, Any] = dict(rec)
    for name in ("n", "round", "rounds_done", "stall", "best_round", "priority", "cancel_round",
                 "lamport", "best_lamport"):
        if name in rec:
            out[name] = int(rec[name])
    for name in ("created_at", "admitted_at", "finished_at", "best_at", "round_started_at",
                 "cancel_at"):
        if name in rec and rec[name] != "":
            out[name] = float(rec[name])
    if "best_length" in rec:
        out["best_length"] = _num(rec["best_length"])
    for name in ("proven_optimal", "cancel_requested"):
        out[name] = rec.get(name) == "1"
    out["params"] = json.loads(rec["params"]) if "params" in rec else {}
    return out
