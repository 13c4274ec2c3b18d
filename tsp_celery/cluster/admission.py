"""Admission control: the limits and the job checks the leader applies to every queued job.

Anyone who reaches Redis can write a job record, so the leader trusts nothing a client wrote:
before admitting a job it re-checks the whole record (every JobParams field, n, the instance
decompressed with a cap and decoded) against *its own* settings. A job that fails is marked
failed with the reason in its status and event log, and never reaches the planner. The same
checks run in the client before it sends anything, and the SUBMIT script enforces the limits
that coordinators publish in Redis (``publish_limits``), so an over-limit job sent through our
script is refused with nothing stored.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tsp_celery.cluster.codec import decode_problem
from tsp_celery.cluster.events import EventType
from tsp_celery.cluster.job import JobParams, JobStatus
from tsp_celery.errors import InstanceError, LimitExceededError
from tsp_celery.settings import Settings

if TYPE_CHECKING:
    from tsp_celery.cluster.cache import ProblemCache
    from tsp_celery.cluster.events import EventLog
    from tsp_celery.cluster.job_queue import JobQueue
    from tsp_celery.cluster.lamport import LamportClock
    from tsp_celery.problem import Problem

log = logging.getLogger(__name__)

# Bounds on parameters that have no setting: a priority beyond them would break queue order
# (score = created_at - priority * 1e10), a seed beyond them the JSON round trip.
MAX_ABS_PRIORITY = 10**6
MAX_SEED = 2**53 - 1
MAX_STALL_ROUNDS = 10**9


class JobRefused(LimitExceededError):
    """Raised when a job breaks a limit or has invalid parameters; ``instance_bad`` says
    whether its stored instance itself is the problem (then it is removed)."""

    def __init__(self, reason: str, instance_bad: bool = False) -> None:
        self.reason = reason
        self.instance_bad = instance_bad
        super().__init__(reason)


def _is_number(value: object) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def parse_params(raw: Mapping[str, Any], settings: Settings) -> JobParams:
    """JobParams from what a client wrote, each field's type and range checked (JobRefused)."""
    if not isinstance(raw, Mapping):
        raise JobRefused("job parameters are not an object")
    time_s, target = raw.get("time_s", 10.0), raw.get("target")
    if not _is_number(time_s) or time_s <= 0:
        raise JobRefused(f"time budget must be a finite number > 0, got {time_s!r:.40}")
    if time_s > settings.max_job_seconds:
        raise JobRefused(f"time budget {time_s:g} s exceeds the limit of "
                         f"{settings.max_job_seconds:g} s (max_job_seconds)")
    if target is not None and (not _is_number(target) or target <= 0):
        raise JobRefused(f"target must be a finite number > 0, got {target!r:.40}")
    checks = {"priority": (-MAX_ABS_PRIORITY, MAX_ABS_PRIORITY), "seed": (0, MAX_SEED),
              "stall_rounds": (1, MAX_STALL_ROUNDS)}
    for name, (low, high) in checks.items():
        value = raw.get(name, 0 if name != "stall_rounds" else None)
        if value is None and name == "stall_rounds":
            continue
        if type(value) is not int or not low <= value <= high:
            raise JobRefused(f"{name} must be an integer in [{low}, {high}], got {value!r:.40}")
    for name in ("bound", "merge"):
        if name in raw and type(raw[name]) is not bool:
            raise JobRefused(f"{name} must be true or false, got {raw[name]!r:.40}")
    return JobParams.from_dict(raw)


def check_size(settings: Settings, n: int, body_bytes: int = 0) -> None:
    """JobRefused when an instance breaks max_nodes or max_instance_bytes (decompressed)."""
    if n > settings.max_nodes:
        raise JobRefused(f"instance has {n} nodes, the limit is {settings.max_nodes} "
                         "(max_nodes)", instance_bad=True)
    if body_bytes > settings.max_instance_bytes:
        raise JobRefused(f"instance is {body_bytes} bytes decompressed, the limit is "
                         f"{settings.max_instance_bytes} (max_instance_bytes)", instance_bad=True)


def review(record: Mapping[str, Any], blob: bytes | None, settings: Settings) -> Problem:
    """The decoded instance of an admissible job record; JobRefused with the reason otherwise."""
    try:
        params = json.loads(record.get("params") or "{}")
    except (TypeError, ValueError):
        raise JobRefused("job parameters are not valid JSON") from None
    parse_params(params, settings)
    if blob is None:
        raise JobRefused("the job's instance is not in the store")
    if len(blob) > settings.max_instance_bytes:
        raise JobRefused(f"stored instance is {len(blob)} bytes, the limit is "
                         f"{settings.max_instance_bytes} (max_instance_bytes)", instance_bad=True)
    try:
        problem = decode_problem(blob, settings.max_instance_bytes)  # inflated with a cap
    except (LimitExceededError, InstanceError) as exc:
        raise JobRefused(str(exc), instance_bad=True) from None
    check_size(settings, problem.n)  # its bytes were capped while inflating
    if str(record.get("n")) != str(problem.n):
        raise JobRefused(f"job record says n = {record.get('n')!r:.40} but its instance has "
                         f"{problem.n} nodes")
    return problem


def publish_limits(redis, keys, settings: Settings) -> None:
    """Write this deployment's limits where the SUBMIT script reads them (the leader does on
    election, so the last one elected wins: give every coordinator the same settings)."""
    redis.hset(keys.limits(), mapping=limit_fields(settings))


def limit_fields(settings: Settings) -> dict[str, str]:
    """The limits as the SUBMIT script reads them (field name -> number as text)."""
    return {"max_nodes": str(settings.max_nodes),
            "max_instance_bytes": str(settings.max_instance_bytes),
            "max_job_seconds": repr(float(settings.max_job_seconds)),
            "max_active_jobs": str(settings.max_active_jobs)}


@dataclass
class Admission:
    """The leader's gate: ``admissible(job_id, fence)`` before the ADMIT script."""

    store: JobQueue
    problems: ProblemCache
    events: EventLog
    clock: LamportClock

    def publish(self) -> None:
        publish_limits(self.store.redis, self.store.keys, self.store.settings)

    def admissible(self, job_id: str, fence: str) -> dict[str, str] | None:
        """The job's record (as text) if the queued job may be admitted; otherwise None, and it
        is failed here with its reason, and its instance removed (unless a good job shares it:
        instances are stored by content)."""
        store = self.store
        raw = store.redis.hgetall(store.keys.job(job_id))
        record = {_text(k): _text(v) for k, v in raw.items()}
        if record.get("status") != JobStatus.QUEUED.value:
            return record  # ADMIT drops a cancelled or vanished job from the queue itself
        instance = record.get("instance") or ""
        try:
            problem = review(record, store.redis.get(store.keys.instance(instance)),
                             store.settings)
        except JobRefused as exc:
            self._refuse(job_id, instance, exc, fence)
            return None
        self.problems.put(instance, problem)
        return record

    def _refuse(self, job_id: str, instance: str, exc: JobRefused, fence: str) -> None:
        error = f"refused at admission: {exc.reason}"
        log.warning("job %s %s", job_id, error)
        self.store.finish(job_id, JobStatus.FAILED, fence, error,
                          self.events.stamp(EventType.FAILED, self.clock,
                                            {"error": error, "refused": True}))
        if instance and (exc.instance_bad or not self._shared(instance, job_id)):
            self.store.redis.delete(self.store.keys.instance(instance))

    def _shared(self, instance: str, job_id: str) -> bool:
        """Whether another unfinished job uses the same stored instance."""
        store = self.store
        others = [j for j in (*store.queued_ids(store.settings.max_active_jobs),
                              *store.active_ids()) if j != job_id]
        pipe = store.redis.pipeline(transaction=False)
        for other in others:
            pipe.hget(store.keys.job(other), "instance")
        return instance in {_text(v) for v in pipe.execute()}


def _text(value: object) -> Any:
    return value.decode(errors="replace") if isinstance(value, bytes) else value
