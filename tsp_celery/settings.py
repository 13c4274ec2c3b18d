"""Settings from one place: defaults as documented constants, overridden by environment variables.

Every process (CLI, coordinator, Celery worker, Flower) builds its Settings with ``from_env`` so
they agree on the Redis URL, the key prefix and the limits.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

DEFAULT_REDIS_URL = "redis://localhost:6379/0"
DEFAULT_PREFIX = "tspc"
# Finished jobs (record, tours, events) expire after a week unless configured otherwise.
DEFAULT_RETENTION_S = 7 * 24 * 3600
# What a client may submit: nodes per instance, bytes per uploaded instance.
DEFAULT_MAX_NODES = 200_000
DEFAULT_MAX_INSTANCE_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_JOB_SECONDS = 24 * 3600.0
# Leader lease: a standby takes over within about one TTL of the leader's death.
DEFAULT_LEASE_TTL_MS = 3000
DEFAULT_LEASE_RENEW_MS = 1000
# A worker's heartbeat key lives this long; the planner sees a dead worker vanish within it.
DEFAULT_HEARTBEAT_TTL_S = 6.0
# Full distance matrices are built only when n*n int32 cells fit this budget per process: sized so
# two worker processes plus the coordinator stay far below 24 GiB.
DEFAULT_MATRIX_BUDGET_MB = 1024

_ENV = {
    "redis_url": "TSP_CELERY_REDIS_URL",
    "prefix": "TSP_CELERY_PREFIX",
    "retention_s": "TSP_CELERY_RETENTION_S",
    "max_nodes": "TSP_CELERY_MAX_NODES",
    "max_instance_bytes": "TSP_CELERY_MAX_INSTANCE_BYTES",
    "max_job_seconds": "TSP_CELERY_MAX_JOB_SECONDS",
    "lease_ttl_ms": "TSP_CELERY_LEASE_TTL_MS",
    "lease_renew_ms": "TSP_CELERY_LEASE_RENEW_MS",
    "heartbeat_ttl_s": "TSP_CELERY_HEARTBEAT_TTL_S",
    "matrix_budget_mb": "TSP_CELERY_MATRIX_BUDGET_MB",
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
    lease_ttl_ms: int = DEFAULT_LEASE_TTL_MS
    lease_renew_ms: int = DEFAULT_LEASE_RENEW_MS
    heartbeat_ttl_s: float = DEFAULT_HEARTBEAT_TTL_S
    matrix_budget_mb: int = DEFAULT_MATRIX_BUDGET_MB

    def __post_init__(self) -> None:
        if not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"Expected a redis://, rediss:// or unix:// URL: {self.redis_url!r}.")
        if self.lease_renew_ms * 2 > self.lease_ttl_ms:
            raise ValueError("Expected lease_renew_ms <= lease_ttl_ms / 2.")
        for name in ("retention_s", "max_nodes", "max_instance_bytes", "lease_ttl_ms",
                     "lease_renew_ms", "matrix_budget_mb"):
            if getattr(self, name) <= 0:
                raise ValueError(f"Expected {name} > 0.")

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
                raw = env[var]
                kind = types[name]
                values[name] = int(raw) if kind == "int" else float(raw) if kind == "float" else raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
