"""Worker registry: each worker writes a heartbeat key with a TTL; readers see who is alive.

The planner sizes rounds by live slots, so a worker that starts shows up at its first beat and
one that dies (SIGKILL, SIGSTOP, lost host) vanishes when its key expires: within the TTL.
A sorted set indexes the workers by last beat, so readers never SCAN the keyspace.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from tsp_celery.cluster.connection import REDIS_DOWN
from tsp_celery.cluster.keys import Keys
from tsp_celery.cluster.redis_health import RedisHealth, is_redis_failure

log = logging.getLogger(__name__)


def beat(redis, keys: Keys, worker_id: str, record: dict[str, Any], ttl_s: float) -> None:
    """Write one heartbeat: the worker's key (with TTL) and its entry in the index."""
    now = time.time()
    body = json.dumps({**record, "worker": worker_id, "seen_at": now})
    pipe = redis.pipeline(transaction=False)
    pipe.set(keys.worker(worker_id), body, px=max(int(ttl_s * 1000), 1))
    pipe.zadd(keys.workers(), {worker_id: now})
    pipe.execute()


def forget(redis, keys: Keys, worker_id: str) -> None:
    """Remove a worker at clean shutdown (a crashed one expires by itself)."""
    pipe = redis.pipeline(transaction=False)
    pipe.delete(keys.worker(worker_id))
    pipe.zrem(keys.workers(), worker_id)
    pipe.execute()


def live_workers(redis, keys: Keys) -> list[dict[str, Any]]:
    """Records of the workers whose heartbeat key is alive, sorted by worker id."""
    ids = [w.decode() if isinstance(w, bytes) else w for w in redis.zrange(keys.workers(), 0, -1)]
    if not ids:
        return []
    raws = redis.mget([keys.worker(w) for w in ids])
    dead = [w for w, raw in zip(ids, raws, strict=True) if raw is None]
    if dead:
        redis.zrem(keys.workers(), *dead)
    out = []
    for raw in raws:
        if raw is None:
            continue
        try:
            out.append(json.loads(raw))
        except ValueError:
            continue
    return sorted(out, key=lambda r: str(r.get("worker")))


def total_slots(workers: Iterable[dict[str, Any]]) -> int:
    """Total slots (worker processes) of these worker records."""
    return sum(int(r.get("slots", 1)) for r in workers)


def live_slots(redis, keys: Keys) -> int:
    """Total slots of the live workers."""
    return total_slots(live_workers(redis, keys))


class Heartbeat:
    """A daemon thread beating every ``ttl_s / 3`` with a fresh record from ``describe()``.

    A thread (not the worker's event loop) so that a worker busy in a long unit still beats;
    if the whole process is stopped or killed, the beats stop and the key expires.
    """

    def __init__(self, redis, keys: Keys, worker_id: str, describe: Callable[[], dict],
                 ttl_s: float) -> None:
        self.redis = redis
        self.keys = keys
        self.worker_id = worker_id
        self.describe = describe
        self.ttl_s = ttl_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tsp-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.ttl_s)
        try:
            forget(self.redis, self.keys, self.worker_id)
        except REDIS_DOWN as exc:
            log.warning("could not remove heartbeat of %s: %s", self.worker_id, exc)

    def _run(self) -> None:
        health = RedisHealth(f"heartbeat of {self.worker_id}")
        while not self._stop.is_set():
            try:
                beat(self.redis, self.keys, self.worker_id, self.describe(), self.ttl_s)
                health.ok()
            except Exception as exc:  # nothing (Redis refusing, a bad describe()) ends the beats
                if is_redis_failure(exc):
                    health.failed(exc)  # logs once per change of Redis state
                else:
                    log.exception("heartbeat of %s failed", self.worker_id)
            self._stop.wait(self.ttl_s / 3)
