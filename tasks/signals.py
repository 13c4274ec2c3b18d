"""Worker signals: the heartbeat that tells the coordinator this worker and its slots are alive."""

from __future__ import annotations

import os
import socket
import time

from celery import signals
from celery.worker import state

from tsp_celery.cluster.celery_config import SOLVE_TASK
from tsp_celery.cluster.connection import connect_settings
from tsp_celery.cluster.keys import Keys
from tsp_celery.cluster.workers import Heartbeat
from tsp_celery.settings import Settings

_heartbeat: list[Heartbeat] = []


def _current_units() -> list[dict]:
    """Units the worker's pool is running now (from the main process's request registry)."""
    out = []
    for req in list(state.active_requests):
        kwargs = req.kwargs or {}
        if req.task_name == SOLVE_TASK:
            out.append({"task_id": req.id, "job_id": kwargs.get("job_id"),
                        "unit_id": (kwargs.get("unit") or {}).get("unit_id"),
                        "round": kwargs.get("round_no")})
        else:
            out.append({"task_id": req.id, "task": req.task_name,
                        "job_id": kwargs.get("job_id")})
    return out


@signals.worker_ready.connect
def start_heartbeat(sender, **_kwargs) -> None:
    """Beat from the worker's main process: slots = pool size, units = active requests."""
    settings = Settings.from_env()
    consumer = sender
    slots = int(getattr(consumer.controller, "concurrency", 1) or 1)
    queues = sorted(q.name for q in consumer.task_consumer.queues) if consumer.task_consumer else []
    started = time.time()

    def describe() -> dict:
        return {"host": socket.gethostname(), "pid": os.getpid(), "slots": slots,
                "queues": queues, "units": _current_units(), "started_at": started}

    beat = Heartbeat(connect_settings(settings, ping=False), Keys(settings.prefix),
                     consumer.hostname, describe, settings.heartbeat_ttl_s)
    beat.start()
    _heartbeat.append(beat)


@signals.worker_shutdown.connect
def stop_heartbeat(**_kwargs) -> None:
    while _heartbeat:
        _heartbeat.pop().stop()
