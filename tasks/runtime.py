"""Per-process state of a worker: Redis client, store, event log, Lamport clock, instance cache.

Built lazily in each prefork child (never inherited across fork), so every child has its own
connections and its own decoded-instance cache.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from tsp_celery.cluster.cache import ProblemCache
from tsp_celery.cluster.connection import connect_settings
from tsp_celery.cluster.events import EventLog
from tsp_celery.cluster.keys import Keys
from tsp_celery.cluster.lamport import LamportClock
from tsp_celery.cluster.store import JobStore
from tsp_celery.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    redis: object
    keys: Keys
    store: JobStore
    events: EventLog
    clock: LamportClock
    problems: ProblemCache
    pid: int


_current: Runtime | None = None


def runtime() -> Runtime:
    """This process's Runtime (rebuilt after a fork)."""
    global _current
    if _current is None or _current.pid != os.getpid():
        settings = Settings.from_env()
        client = connect_settings(settings, ping=False)
        keys = Keys(settings.prefix)
        store = JobStore(client, keys, settings)
        node = f"worker:{socket.gethostname()}:{os.getpid()}"
        _current = Runtime(settings, client, keys, store, EventLog(client, keys),
                           LamportClock(node), ProblemCache(store), os.getpid())
    return _current
