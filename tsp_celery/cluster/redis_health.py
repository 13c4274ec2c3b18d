"""Redis trouble as the coordinator sees it: every error class named, one log line per change.

A coordinator must survive whatever Redis answers — unreachable, slow, out of memory, a demoted
replica, failing persistence, a busy script — by backing off and trying again, never by exiting.
``RedisHealth`` turns each failure into a short state name, logs only when the state changes
(and once more when Redis is fine again), and hands out the back-off delay.
"""

from __future__ import annotations

import logging
import time

import redis as redis_lib
import redis.exceptions as redis_exc

log = logging.getLogger(__name__)

# Back-off after a failed turn: doubles from MIN to MAX while the failure lasts.
BACKOFF_MIN_S = 0.1
BACKOFF_MAX_S = 5.0

# What each refusal means. redis-py maps some reply codes to classes (and strips the code from
# the message); the others stay ResponseError with the code as the first word.
_BY_CLASS = (
    (redis_exc.OutOfMemoryError, "out of memory (maxmemory reached): writes refused"),
    (redis_exc.ReadOnlyError, "read-only (a replica, or a demoted master): writes refused"),
    (redis_exc.NoScriptError, "without our scripts (script cache flushed)"),
    (redis_exc.BusyLoadingError, "loading its dataset"),
    (redis_exc.MasterDownError, "a replica without its master"),
    (redis_lib.TimeoutError, "timing out"),
    (redis_lib.ConnectionError, "unreachable"),
)
_BY_CODE = {
    "OOM": "out of memory (maxmemory reached): writes refused",
    "MISCONF": "failing to persist (MISCONF): writes refused",
    "BUSY": "busy running a script",
    "READONLY": "read-only (a replica, or a demoted master): writes refused",
    "NOSCRIPT": "without our scripts (script cache flushed)",
    "LOADING": "loading its dataset",
}


def classify(exc: BaseException) -> str | None:
    """A short description of a Redis-side failure, or None if ``exc`` is not one."""
    for cls, state in _BY_CLASS:
        if isinstance(exc, cls):
            return state
    if isinstance(exc, redis_lib.ResponseError):
        return _BY_CODE.get(str(exc).split(" ", 1)[0])
    return None


def is_redis_failure(exc: BaseException) -> bool:
    return classify(exc) is not None


class RedisHealth:
    """The last known Redis state of one process (thread-safe enough: one writer per instance)."""

    def __init__(self, who: str) -> None:
        self.who = who
        self.state: str | None = None  # None = fine
        self.since = 0.0
        self.backoff_s = BACKOFF_MIN_S

    def failed(self, exc: BaseException) -> float:
        """Note a failure; returns how long to back off before the next try."""
        state = classify(exc) or type(exc).__name__
        if state != self.state:
            if self.state is None:
                self.since = time.monotonic()
            log.warning("%s: Redis %s (%s); backing off and retrying", self.who, state, exc)
            self.state = state
            self.backoff_s = BACKOFF_MIN_S
        else:
            self.backoff_s = min(self.backoff_s * 2, BACKOFF_MAX_S)
        return self.backoff_s

    def ok(self) -> None:
        if self.state is not None:
            log.warning("%s: Redis is fine again after %.1f s (%s)", self.who,
                        time.monotonic() - self.since, self.state)
            self.state = None
            self.backoff_s = BACKOFF_MIN_S
