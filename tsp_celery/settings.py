"""Settings from one place: defaults as documented constants, overridden by environment variables.

Every process (CLI, coordinator, Celery worker, Flower) builds its Settings with ``from_env`` so
they agree on the Redis URL, the key prefix and the limits.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from urllib.parse import quote

DEFAULT_REDIS_URL = "redis://localhost:6379/0"
DEFAULT_PREFIX = "tspc"
# Finished jobs (record, tours, events) expire after a week unless configured otherwise.
DEFAULT_RETENTION_S = 7 * 24 * 3600
# What a job may ask for: nodes per instance, bytes per instance (measured decompressed), its
# time budget, and how many unfinished (queued or running) jobs the cluster holds at once.
# Enforced by the client, by the SUBMIT script (from the limits coordinators publish in Redis)
# and again by the leader at admission (tsp_celery/cluster/admission.py).
DEFAULT_MAX_NODES = 200_000
DEFAULT_MAX_INSTANCE_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_JOB_SECONDS = 24 * 3600.0
DEFAULT_MAX_ACTIVE_JOBS = 1000
# Leader lease: a standby takes over within about one TTL of the leader's death.
DEFAULT_LEASE_TTL_MS = 3000
DEFAULT_LEASE_RENEW_MS = 1000
# A worker's heartbeat key lives this long; the planner sees a dead worker vanish within it.
DEFAULT_HEARTBEAT_TTL_S = 6.0
# Full distance matrices are built only when n*n int32 cells fit this budget per process: sized so
# two worker processes plus the coordinator stay far below 24 GiB.
DEFAULT_MATRIX_BUDGET_MB = 1024
# Sentinel (TSP_CELERY_REDIS_URL=sentinel://h1:26379;sentinel://h2:26379;...): the name under
# which the sentinels know the primary.
DEFAULT_SENTINEL_MASTER = "mymaster"
# Durable commits: after the lease is taken and after each commit a client relies on, WAIT for
# this many replicas (0: do not wait, the single-Redis behaviour) for at most this long.
DEFAULT_WAIT_REPLICAS = 0
DEFAULT_WAIT_TIMEOUT_MS = 1000

_ENV = {
    "redis_url": "TSP_CELERY_REDIS_URL",
    "prefix": "TSP_CELERY_PREFIX",
    "retention_s": "TSP_CELERY_RETENTION_S",
    "max_nodes": "TSP_CELERY_MAX_NODES",
    "max_instance_bytes": "TSP_CELERY_MAX_INSTANCE_BYTES",
    "max_job_seconds": "TSP_CELERY_MAX_JOB_SECONDS",
    "max_active_jobs": "TSP_CELERY_MAX_ACTIVE_JOBS",
    "lease_ttl_ms": "TSP_CELERY_LEASE_TTL_MS",
    "lease_renew_ms": "TSP_CELERY_LEASE_RENEW_MS",
    "heartbeat_ttl_s": "TSP_CELERY_HEARTBEAT_TTL_S",
    "matrix_budget_mb": "TSP_CELERY_MATRIX_BUDGET_MB",
    "redis_ca_certs": "TSP_CELERY_REDIS_CA_CERTS",
    "sentinel_master": "TSP_CELERY_SENTINEL_MASTER",
    "sentinel_password": "TSP_CELERY_SENTINEL_PASSWORD",
    "wait_replicas": "TSP_CELERY_WAIT_REPLICAS",
    "wait_timeout_ms": "TSP_CELERY_WAIT_TIMEOUT_MS",
}


@dataclass(frozen=True)
class Settings:
    """Validated configuration shared by every process of a deployment."""

    redis_url: str = DEFAULT_REDIS_URL
    prefix: str = DEFAULT_PREFIX
    retention_s: int = DEFAULT_RETENTION_S
    max_nodes: int = DEFAULT_MAX_NODES
    max_instance_bytes: int = DEFAULT_MAX_INSTANCE_BYTES
    max_job_seconds: float = DEFAULT_MAX_JOB_SECONDS
    max_active_jobs: int = DEFAULT_MAX_ACTIVE_JOBS
    lease_ttl_ms: int = DEFAULT_LEASE_TTL_MS
    lease_renew_ms: int = DEFAULT_LEASE_RENEW_MS
    heartbeat_ttl_s: float = DEFAULT_HEARTBEAT_TTL_S
    matrix_budget_mb: int = DEFAULT_MATRIX_BUDGET_MB
    # A CA bundle to verify a rediss:// server with (private CAs); added to the URL's query as
    # ssl_ca_certs, where redis-py, kombu and the result backend all read it.
    redis_ca_certs: str = ""
    # With a sentinel:// URL: the primary's name, and the sentinels' own password (if they
    # have one: `requirepass` in sentinel.conf; the Redis password stays in the URL).
    sentinel_master: str = DEFAULT_SENTINEL_MASTER
    sentinel_password: str = ""
    wait_replicas: int = DEFAULT_WAIT_REPLICAS
    wait_timeout_ms: int = DEFAULT_WAIT_TIMEOUT_MS

    def __post_init__(self) -> None:
        check_redis_url(self.redis_url)
        if self.redis_ca_certs and self.redis_url.startswith("rediss://") \
                and "ssl_ca_certs=" not in self.redis_url:
            joiner = "&" if "?" in self.redis_url else "?"
            object.__setattr__(self, "redis_url", f"{self.redis_url}{joiner}ssl_ca_certs="
                               f"{quote(self.redis_ca_certs, safe='/')}")
        if self.lease_renew_ms * 2 > self.lease_ttl_ms:
            raise ValueError("Expected lease_renew_ms <= lease_ttl_ms / 2.")
        for name in ("retention_s", "max_nodes", "max_instance_bytes", "max_active_jobs",
                     "lease_ttl_ms", "lease_renew_ms", "matrix_budget_mb"):
            if getattr(self, name) <= 0:
                raise ValueError(f"Expected {name} > 0.")
        if not (math.isfinite(self.max_job_seconds) and self.max_job_seconds > 0):
            raise ValueError("Expected a finite max_job_seconds > 0.")
        if self.wait_replicas < 0 or self.wait_timeout_ms <= 0:
            raise ValueError("Expected wait_replicas >= 0 and wait_timeout_ms > 0.")
        if not self.sentinel_master:
            raise ValueError("Expected a non-empty sentinel_master.")

    @property
    def is_sentinel(self) -> bool:
        """Whether Redis is reached through sentinels (a ``sentinel://`` URL list)."""
        return self.redis_url.startswith("sentinel://")

    @property
    def matrix_budget_bytes(self) -> int:
        return self.matrix_budget_mb * 1024 * 1024

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from ``TSP_CELERY_*`` variables; explicit ``overrides`` (not None) win."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        types = {f.name: f.type for f in fields(cls)}
        for name, var in _ENV.items():
            if var in env and env[var] != "":
                values[name] = _typed(var, env[var], types[name])
        if overrides.get("redis_url") is None and "redis_url" in values:
            check_redis_url(str(values["redis_url"]), source=_ENV["redis_url"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def is_configured(name: str, env: Mapping[str, str] | None = None) -> bool:
    """Whether setting ``name`` (a field of Settings) is given in the environment rather than
    left at its default: a default may then be adapted to the machine."""
    env = os.environ if env is None else env
    return env.get(_ENV[name], "") != ""


def check_redis_url(url: str, source: str = "the Redis URL") -> None:
    """ValueError unless ``url`` has a scheme Redis clients open; the message never shows the
    URL (it may hold a password), only where it came from."""
    if url.startswith("sentinel://"):
        ok = all(part.startswith("sentinel://") and len(part) > 11 for part in url.split(";"))
    else:
        ok = url.startswith(("redis://", "rediss://", "unix://"))
    if not ok:
        raise ValueError("Expected a redis://, rediss:// or unix:// URL (or sentinel:// URLs "
                         f"separated by ';') in {source} (value not shown: it may hold a "
                         "password).")


def _typed(var: str, raw: str, kind: object) -> object:
    """An environment value as its field's type; a bad number names the variable."""
    if kind not in ("int", "float"):
        return raw
    try:
        return int(raw) if kind == "int" else float(raw)
    except ValueError:
        raise ValueError(f"Expected {'an integer' if kind == 'int' else 'a number'} in "
                         f"{var}, got {raw!r}.") from None
