"""The Celery app and its tasks: ``celery -A tasks worker`` / ``celery -A tasks flower``.

Tasks are thin: unpack ids from the message, fetch what they need from Redis, call
``tsp_celery.solver``, store the result, return a small JSON summary. Configuration comes from
the environment (``TSP_CELERY_REDIS_URL``, ``TSP_CELERY_PREFIX``...) through Settings.
"""

from tasks import (  # noqa: F401  (tasks, signals)
    bound_task,
    logs,
    round_callback,
    signals,
    task_metrics,
    unit_tasks,
)
from tasks.celeryapp import app

__all__ = ["app"]
