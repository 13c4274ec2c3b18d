"""Worker metrics: Celery signals feed ``tsp_celery.metrics.worker`` (on when
TSP_CELERY_WORKER_METRICS_PORT is set; see docs/operations.md, Monitoring)."""

from __future__ import annotations

import os
import sys

from celery import signals

from tsp_celery.cluster.celery_config import MERGE_TASK, SOLVE_TASK
from tsp_celery.cluster.connection import REDIS_DOWN
from tsp_celery.errors import EXIT_USAGE, TspCeleryError
from tsp_celery.metrics import redis_error, worker
from tsp_celery.plan.round_plan import KINDS

# The exporter's port, set in the worker's main process before the pool forks (so children
# inherit it); None in Flower, `celery inspect` and other processes that import the app.
_port: list[int] = []


@signals.worker_init.connect
def start_fresh(**_kwargs) -> None:
    """Before the pool forks: check the settings, empty the directory (totals start now)."""
    try:
        port = worker.configured_port()
    except TspCeleryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from exc
    if port is not None:
        worker.wipe(os.environ[worker.DIR_ENV])
        _port.append(port)


@signals.worker_ready.connect
def serve_metrics(**_kwargs) -> None:
    if _port:
        worker.serve(_port[0], os.environ.get("TSP_CELERY_WORKER_METRICS_ADDR", "0.0.0.0"))


@signals.task_prerun.connect
def task_started(task_id=None, task=None, kwargs=None, **_extra) -> None:
    if not _port or task is None:
        return
    if task.name == SOLVE_TASK:
        unit = (kwargs or {}).get("unit")
        kind = unit.get("kind") if isinstance(unit, dict) else None
        kind = kind if kind in KINDS else "unknown"  # from the message: keep the label bounded
        delivery = getattr(task.request, "delivery_info", None) or {}
        worker.unit_started(task_id, kind, bool(delivery.get("redelivered")))
    elif task.name == MERGE_TASK:
        worker.merge_started(task_id)


@signals.task_postrun.connect
def task_ended(task_id=None, task=None, retval=None, state=None, **_extra) -> None:
    if not _port or task is None:
        return
    if task.name == SOLVE_TASK:
        worker.unit_ended(task_id, retval, state == "SUCCESS")
    elif task.name == MERGE_TASK:
        worker.merge_ended(task_id)


@signals.task_failure.connect
def task_failed(exception=None, **_extra) -> None:
    """A task that Redis failed (a unit's result could not be stored): count it by class."""
    if _port and isinstance(exception, REDIS_DOWN):
        redis_error(exception)


@signals.worker_process_shutdown.connect
def child_exited(pid=None, **_extra) -> None:
    if _port:
        worker.process_exited(pid or os.getpid())
