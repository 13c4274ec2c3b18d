"""The Celery configuration every process shares (workers, coordinator, Flower), from Settings.

Each setting carries a one-line reason; ``../shared/research/celery-redis.md`` §1 has the sources.
The coordinator builds its own app with ``make_app`` and sends tasks by name, so ``tsp_celery``
never imports the ``tasks`` package (dependencies point one way: tasks -> tsp_celery).
"""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import parse_qs, urlsplit

from celery import Celery
from kombu import Queue

from tsp_celery.settings import Settings

SOLVE_QUEUE = "solve"
MERGE_QUEUE = "merge"
SOLVE_TASK = "tsp.solve_unit"
MERGE_TASK = "tsp.merge_round"
BOUND_TASK = "tsp.lower_bound"
INITIAL_TASK = "tsp.initial_tour"
PART_TASK = "tsp.initial_part"

# A unit never asks for more wall time than this (the coordinator clamps planned budgets), so
# the time limits and the visibility timeout below can be fixed numbers.
MAX_UNIT_BUDGET_S = 600.0
# Soft limit = unit budget + this: the solver stops by its own deadline long before.
SOFT_GRACE_S = 10.0
# Hard limit = soft limit + this: time to return the best tour after the soft signal.
HARD_GRACE_S = 20.0
# Merge and bound tasks: generous fixed limits (splice, crossover, subgradient loop).
MERGE_SOFT_S, MERGE_HARD_S = 120.0, 180.0
# Above the longest hard limit plus prefetch-buffer wait (prefetch 1: ~0): a running unit is
# never handed to a second worker; a dead worker's unit returns after this (the round deadline
# does not wait for it).
VISIBILITY_TIMEOUT_S = 2 * int(MAX_UNIT_BUDGET_S + SOFT_GRACE_S + HARD_GRACE_S)
# Unit results in the backend are only for monitoring (our store is the source of truth).
RESULT_EXPIRES_S = 24 * 3600


def unit_limits(budget_s: float) -> tuple[float, float]:
    """(soft, hard) time limits of a unit with this budget."""
    soft = min(budget_s, MAX_UNIT_BUDGET_S) + SOFT_GRACE_S
    return soft, soft + HARD_GRACE_S


def ssl_options(url: str) -> dict[str, Any] | None:
    """For rediss:// URLs, the ssl dict kombu and the Redis backend need (None otherwise).

    ``ssl_cert_reqs`` (required/optional/none), ``ssl_ca_certs``, ``ssl_certfile`` and
    ``ssl_keyfile`` are read from the URL query; certificates are required by default, since
    kombu would otherwise fall back to CERT_NONE.
    """
    parts = urlsplit(url)
    if parts.scheme != "rediss":
        return None
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    reqs = query.get("ssl_cert_reqs", "required").lower().removeprefix("cert_")
    levels = {"required": ssl.CERT_REQUIRED, "optional": ssl.CERT_OPTIONAL, "none": ssl.CERT_NONE}
    if reqs not in levels:
        raise ValueError(f"Expected ssl_cert_reqs in required/optional/none, got {reqs!r}.")
    out: dict[str, Any] = {"ssl_cert_reqs": levels[reqs]}
    for name in ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile"):
        if name in query:
            out[name] = query[name]
    return out


def sentinel_options(settings: Settings) -> dict[str, Any]:
    """For sentinel:// URLs, the transport options kombu's SentinelChannel and Celery's
    SentinelBackend read (empty otherwise): the primary's name, and how to talk to sentinels."""
    if not settings.is_sentinel:
        return {}
    # Without sentinel_kwargs the backend talks to sentinels with no timeout at all (a dead
    # sentinel host would hang it); the password is the sentinels' own, if they have one.
    sentinel_kwargs: dict[str, Any] = {"socket_timeout": 5, "socket_connect_timeout": 5}
    if settings.sentinel_password:
        sentinel_kwargs["password"] = settings.sentinel_password
    return {"master_name": settings.sentinel_master, "sentinel_kwargs": sentinel_kwargs}


# Broker connections per worker process (kombu's Redis channel pool; see celery_config).
BROKER_MAX_CONNECTIONS = 1000


def celery_config(settings: Settings) -> dict[str, Any]:
    """The Celery settings for ``settings``; one dict so tests can assert every value."""
    url = settings.redis_url
    keyprefix = f"{settings.prefix}:celery:"
    transport = {
        "visibility_timeout": VISIBILITY_TIMEOUT_S,  # > hard limit: no duplicate of a live unit
        "global_keyprefix": keyprefix,  # queues and event channels per deployment prefix
        "socket_keepalive": True,  # notice dead connections through NAT/containers
        "health_check_interval": 10,  # revalidate idle connections after a Redis restart
        "retry_on_timeout": True,  # a slow Redis is not a lost broker
        "queue_order_strategy": "sorted",  # "merge" < "solve": a free slot takes merges first
        # The gevent pool acks from every greenlet at once: kombu's default cap of 10 broker
        # connections failed those acks ("Couldn't ack", MaxConnectionsError) at 250 greenlets.
        # Connections open on demand, so the cap costs prefork and threads workers nothing.
        "max_connections": BROKER_MAX_CONNECTIONS,
    }
    backend = {"visibility_timeout": VISIBILITY_TIMEOUT_S, "global_keyprefix": keyprefix,
               # A demoted primary answers READONLY: retry it as a lost connection, not a
               # failed result write (celery #10119); redis-py's sentinel connections already
               # turn it into a ConnectionError, this covers a plain URL pointing at a replica.
               "additional_connection_errors": ("redis.exceptions.ReadOnlyError",)}
    sentinel = sentinel_options(settings)
    transport.update(sentinel)
    backend.update(sentinel)
    tls = ssl_options(url)
    return {
        "broker_url": url,  # broker and backend share one Redis (the job store's)
        "result_backend": url,
        # Celery's Redis docs ask for the same visibility timeout in all three places.
        "broker_transport_options": transport,
        "result_backend_transport_options": backend,
        "visibility_timeout": VISIBILITY_TIMEOUT_S,
        "broker_use_ssl": tls,  # rediss://: verify certificates as the URL says
        "redis_backend_use_ssl": tls,  # same for the result backend connection
        "task_serializer": "json",  # never pickle on the wire
        "result_serializer": "json",
        "accept_content": ["json"],  # refuse anything else a rogue producer sends
        "result_accept_content": ["json"],
        "task_acks_late": True,  # ack after the unit ran: a crash mid-unit redelivers it
        "task_reject_on_worker_lost": True,  # requeue when the child dies (attempt cap in tasks)
        "task_acks_on_failure_or_timeout": True,  # failures are final; the coordinator replans
        "worker_prefetch_multiplier": 1,  # long CPU units: reserve only what a slot can run
        "task_time_limit": MERGE_HARD_S,  # default hard limit (merge, bound); units set theirs
        "task_soft_time_limit": MERGE_SOFT_S,  # default soft limit; units set budget + grace
        "result_expires": RESULT_EXPIRES_S,  # backend results are monitoring data only
        "broker_connection_retry_on_startup": True,  # wait for Redis in compose startup races
        "broker_connection_max_retries": None,  # never give up reconnecting to the broker
        "result_backend_always_retry": True,  # retry backend writes on a Redis hiccup
        "result_backend_max_sleep_between_retries_ms": 5000,  # but keep retries brisk
        "redis_backend_health_check_interval": 10,  # backend connections survive restarts
        "redis_retry_on_timeout": True,  # a timeout is retried, not a lost chord part
        "redis_socket_keepalive": True,  # same keepalive as the broker
        "worker_cancel_long_running_tasks_on_connection_loss": True,  # no silent duplicates
        "task_track_started": True,  # STARTED state: Flower and status show running units
        "result_extended": True,  # task name/args/worker in the backend, for inspection
        "worker_send_task_events": True,  # Flower is event-driven (-E by default)
        "task_send_sent_event": True,  # Flower sees units queued before a worker takes them
        "task_default_queue": SOLVE_QUEUE,  # a plain `celery worker` consumes both queues
        "task_queues": (Queue(SOLVE_QUEUE), Queue(MERGE_QUEUE)),  # declared, so both exist
        # The merge (the chord body) and the bound never wait behind a backlog of solver units.
        "task_routes": {SOLVE_TASK: {"queue": SOLVE_QUEUE},
                        INITIAL_TASK: {"queue": SOLVE_QUEUE},
                        PART_TASK: {"queue": SOLVE_QUEUE},
                        BOUND_TASK: {"queue": MERGE_QUEUE},
                        MERGE_TASK: {"queue": MERGE_QUEUE}},
        "worker_max_tasks_per_child": 500,  # contain leaks of native solver code
        "worker_soft_shutdown_timeout": 30.0,  # SIGTERM lets a running unit finish its slice
        "worker_hijack_root_logger": False,  # our CLI/worker entry configures logging
        "timezone": "UTC",  # one clock in logs and Flower across hosts
        "enable_utc": True,  # same
    }


def make_app(settings: Settings | None = None, name: str = "tsp_celery") -> Celery:
    """A Celery app configured for ``settings`` (from the environment when None)."""
    settings = settings or Settings.from_env()
    app = Celery(name)
    app.conf.update(celery_config(settings))
    return app
