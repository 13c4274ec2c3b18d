"""Prometheus metrics of tsp-celery: what the coordinators and the workers export.

Call sites elsewhere use one line each (``metrics.leader_acquisitions.inc()``); all the logic
lives here. ``instruments`` defines what processes record, ``cluster`` what is read from Redis
at scrape time, ``exporter`` serves a coordinator's ``/metrics``, ``worker`` the workers' merged
multiprocess view, ``catalog`` lists every metric for the docs.
"""

from __future__ import annotations

from tsp_celery.metrics.instruments import (
    leader_acquisitions,
    lease_step_seconds,
    merge_seconds,
    recovery_seconds,
    redis_errors,
    round_seconds,
    units_dispatched,
)


def redis_error(exc: BaseException) -> None:
    """Count one failed Redis call by exception class (a small, fixed set: bounded label)."""
    redis_errors.labels(type(exc).__name__).inc()


__all__ = ["leader_acquisitions", "lease_step_seconds", "merge_seconds", "recovery_seconds",
           "redis_error", "round_seconds", "units_dispatched"]
