"""API tokens: created by an operator, stored as a SHA-256 digest with per-token limits.

A token reads ``tspg_<id>_<secret>``: the id finds the record, the 256-bit random secret is
checked against its digest with ``hmac.compare_digest``. A token of that entropy needs no slow
KDF; the secret itself is shown once by ``tsp-celery tokens create`` and never stored or logged.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import asdict, dataclass

from tsp_celery.cluster.keys import Keys
from tsp_celery.cluster.lock import FencedLock

TOKEN_PREFIX = "tspg"
_TOKEN = re.compile(rf"^{TOKEN_PREFIX}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{20,100}})$")
# Defaults of a new token: a laptop-sized instance, ten minutes, three jobs at a time.
DEFAULT_MAX_NODES = 20_000
DEFAULT_MAX_JOB_SECONDS = 600.0
DEFAULT_MAX_ACTIVE_JOBS = 3
# A submission holds its token's quota lock while it counts and queues (milliseconds); the TTL
# only frees the lock of a gateway that died holding it.
QUOTA_LOCK_TTL_S = 30.0
QUOTA_LOCK_WAIT_S = 10.0


@dataclass(frozen=True)
class TokenLimits:
    """What one token may ask for; the cluster-wide Settings limits apply on top."""

    max_nodes: int = DEFAULT_MAX_NODES
    max_job_seconds: float = DEFAULT_MAX_JOB_SECONDS
    max_active_jobs: int = DEFAULT_MAX_ACTIVE_JOBS

    def __post_init__(self) -> None:
        for name in ("max_nodes", "max_job_seconds", "max_active_jobs"):
            if not getattr(self, name) > 0:
                raise ValueError(f"Expected {name} > 0.")


@dataclass(frozen=True)
class TokenInfo:
    """A verified token: its id (owner of jobs), name and limits."""

    token_id: str
    name: str
    limits: TokenLimits


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenStore:
    """Create, verify, list and revoke tokens, and remember which jobs each token owns."""

    def __init__(self, redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    def create(self, name: str, limits: TokenLimits | None = None) -> str:
        """A new token (returned once, never stored): only its digest and limits are kept."""
        if not name.strip():
            raise ValueError("Expected a non-empty token name.")
        limits = limits or TokenLimits()
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        record = {"name": name, "digest": _digest(secret), "created_at": f"{time.time():.6f}",
                  **{k: str(v) for k, v in asdict(limits).items()}}
        pipe = self.redis.pipeline()
        pipe.hset(self.keys.gateway_token(token_id), mapping=record)
        pipe.zadd(self.keys.gateway_tokens(), {token_id: time.time()})
        pipe.execute()
        return f"{TOKEN_PREFIX}_{token_id}_{secret}"

    def verify(self, token: str) -> TokenInfo | None:
        """The token's info when it is well-formed, known and its secret matches; else None."""
        match = _TOKEN.fullmatch(token or "")
        if match is None:
            return None
        token_id, secret = match.groups()
        raw = self.redis.hgetall(self.keys.gateway_token(token_id))
        rec = {_text(k): _text(v) for k, v in raw.items()}
        if not rec or not hmac.compare_digest(rec.get("digest", ""), _digest(secret)):
            return None
        limits = TokenLimits(max_nodes=int(rec["max_nodes"]),
                             max_job_seconds=float(rec["max_job_seconds"]),
                             max_active_jobs=int(rec["max_active_jobs"]))
        return TokenInfo(token_id, rec.get("name", ""), limits)

    def tokens(self) -> list[dict]:
        """Every token's id, name, creation time and limits (no digests)."""
        out = []
        for raw_id in self.redis.zrange(self.keys.gateway_tokens(), 0, -1):
            token_id = _text(raw_id)
            rec = {_text(k): _text(v) for k, v in
                   self.redis.hgetall(self.keys.gateway_token(token_id)).items()}
            if rec:
                rec.pop("digest", None)
                out.append({"token_id": token_id, **rec})
        return out

    def revoke(self, token_id: str) -> bool:
        """Forget a token (its jobs keep running); False when there was no such token."""
        pipe = self.redis.pipeline()
        pipe.delete(self.keys.gateway_token(token_id), self.keys.gateway_token_active(token_id))
        pipe.zrem(self.keys.gateway_tokens(), token_id)
        return bool(pipe.execute()[0])

    # -- job ownership --------------------------------------------------------------------------
    def add_job(self, token_id: str, job_id: str) -> None:
        pipe = self.redis.pipeline()
        pipe.zadd(self.keys.gateway_token_jobs(token_id), {job_id: time.time()})
        pipe.sadd(self.keys.gateway_token_active(token_id), job_id)
        pipe.execute()

    def quota_lock(self, token_id: str) -> FencedLock:
        """Serialises one token's submissions across gateway threads and processes; it expires
        by itself if its holder dies."""
        return FencedLock(self.redis, self.keys, f"{self.keys.gateway_token_active(token_id)}:lock",
                          "gateway", ttl_ms=int(QUOTA_LOCK_TTL_S * 1000), wait_s=QUOTA_LOCK_WAIT_S)

    def active_job_ids(self, token_id: str) -> list[str]:
        """The token's jobs not yet seen final (a superset of its queued and running ones)."""
        return [_text(v) for v in self.redis.smembers(self.keys.gateway_token_active(token_id))]

    def settle(self, token_id: str, job_ids: list[str]) -> None:
        """Stop counting jobs that are final (or expired) against the active-jobs quota."""
        if job_ids:
            self.redis.srem(self.keys.gateway_token_active(token_id), *job_ids)

    def owns(self, token_id: str, job_id: str) -> bool:
        return self.redis.zscore(self.keys.gateway_token_jobs(token_id), job_id) is not None

    def job_ids(self, token_id: str, limit: int = 50) -> list[str]:
        """The token's job ids, newest first."""
        ids = self.redis.zrevrange(self.keys.gateway_token_jobs(token_id), 0, limit - 1)
        return [_text(v) for v in ids]

    def forget_jobs(self, token_id: str, job_ids: list[str]) -> None:
        """Drop ids whose job records expired."""
        if job_ids:
            self.redis.zrem(self.keys.gateway_token_jobs(token_id), *job_ids)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
