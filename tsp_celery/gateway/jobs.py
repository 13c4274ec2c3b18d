"""What a token may do with jobs: submit within its quotas, and see only the jobs it submitted.

Every call goes through the cluster's own ClusterClient (the gateway holds the Redis
credentials); another token's job is answered exactly like an unknown one.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from typing import Any

import numpy as np
import redis

from tsp_celery.cluster.client import ClusterClient
from tsp_celery.cluster.job import JobStatus
from tsp_celery.errors import JobNotFoundError, LimitExceededError, TspCeleryError
from tsp_celery.gateway.schemas import JobOptions
from tsp_celery.gateway.tokens import TokenInfo, TokenStore
from tsp_celery.problem import Problem, known_optimum


class OptionLimitError(LimitExceededError):
    """Raised when an option (the time budget) is over the token's limit: HTTP 422."""


class TooManyJobsError(LimitExceededError):
    """Raised when a token already has its maximum of active jobs: HTTP 429."""


class JobService:
    """The gateway's view of the cluster, per token."""

    def __init__(self, client: ClusterClient, tokens: TokenStore) -> None:
        self.client = client
        self.tokens = tokens
        self._problem = lru_cache(maxsize=8)(client.store.load_problem)

    # -- submit ---------------------------------------------------------------------------------
    def submit(self, who: TokenInfo, problem: Problem, options: JobOptions) -> dict[str, Any]:
        """Check the token's quotas (then the cluster's limits), queue, and record the owner."""
        limits = who.limits
        if problem.n > limits.max_nodes:
            raise LimitExceededError(f"instance has {problem.n} nodes; this token allows at "
                                     f"most {limits.max_nodes}")
        if options.time > limits.max_job_seconds:
            raise OptionLimitError(f"time budget {options.time:g} s; this token allows at most "
                                   f"{limits.max_job_seconds:g} s")
        seed = secrets.randbelow(2**31)
        params = options.params(seed)
        # Count and queue under the token's lock, so concurrent submissions (threads, or
        # several gateway processes) cannot all pass the count before any of them is recorded.
        lock = self.tokens.quota_lock(who.token_id)
        if not lock.acquire(lock.wait_s):
            raise TooManyJobsError("this token's other submissions are still being queued; "
                                   "retry")
        try:
            active = self.active_jobs(who)
            if active >= limits.max_active_jobs:
                raise TooManyJobsError(f"this token has {active} queued or running jobs, its "
                                       f"limit is {limits.max_active_jobs}; wait or cancel one")
            job_id = self.client.submit(problem, params)
            self.tokens.add_job(who.token_id, job_id)
        finally:
            lock.release()  # a no-op if it was held past its TTL and taken by another
        return {"job_id": job_id, "status": JobStatus.QUEUED.value, "n": problem.n,
                "seed": params.seed, "warning": self.client.missing_service()}

    def active_jobs(self, who: TokenInfo) -> int:
        """The token's queued or running jobs; the ones seen final are settled on the way, so
        the cost follows the active jobs, not the token's whole history."""
        ids = self.tokens.active_job_ids(who.token_id)
        pipe = self.client.redis.pipeline()
        for job_id in ids:
            pipe.hget(self.client.keys.job(job_id), "status")
        final = {s.value for s in JobStatus if s.is_final}
        finished = [job_id for job_id, status in zip(ids, pipe.execute(), strict=True)
                    if status is None or _text(status) in final]
        self.tokens.settle(who.token_id, finished)
        return len(ids) - len(finished)

    # -- read -----------------------------------------------------------------------------------
    def _check_owner(self, who: TokenInfo, job_id: str) -> None:
        if not self.tokens.owns(who.token_id, job_id):
            raise JobNotFoundError(f"no job {job_id!r} for this token")

    def view(self, who: TokenInfo, job_id: str) -> dict[str, Any]:
        """Status, best length, gap to the known optimum (or target), lower bound, rounds."""
        self._check_owner(who, job_id)
        st = self.client.status(job_id)
        rec = self.client.store.record(job_id)
        bound = self.client.store.get_bound(rec["instance"]) or {}
        optimum = st["target"] or known_optimum(st["name"] or "", st["n"] or 0)
        best = st["best_length"]
        gap = None if not optimum or best is None else 100.0 * (best - optimum) / optimum
        return {**st, "optimum": optimum, "gap_pct": gap, "lower_bound": bound.get("value"),
                "lower_bound_proven": bool(bound.get("proven", False))}

    def jobs(self, who: TokenInfo, limit: int = 50) -> list[dict[str, Any]]:
        """The token's jobs, newest first; ids whose records expired are forgotten."""
        out, gone = [], []
        for job_id in self.tokens.job_ids(who.token_id, limit):
            try:
                out.append(self.view(who, job_id))
            except JobNotFoundError:
                gone.append(job_id)
        self.tokens.forget_jobs(who.token_id, gone)
        return out

    def result(self, who: TokenInfo, job_id: str, points: int | None = None) -> dict[str, Any]:
        """``Result.to_dict`` of the job's best tour; with ``points``, a decimated drawing path."""
        self._check_owner(who, job_id)
        res = self.client.result(job_id)
        doc = res.to_dict()
        if points is not None:
            instance = self.client.store.record(job_id)["instance"]
            xy = self._problem(instance).plot_coords
            doc["path"] = None if xy is None else drawing_path(xy, np.asarray(res.tour), points)
        return doc

    def tour_text(self, who: TokenInfo, job_id: str) -> str:
        self._check_owner(who, job_id)
        return self.client.result(job_id).to_tsplib()

    def events(self, who: TokenInfo, job_id: str) -> list[dict[str, Any]]:
        """The job's Lamport-ordered event log."""
        self._check_owner(who, job_id)
        self.client.store.record(job_id)  # an expired job is 404, not an empty log
        return [e.to_dict() for e in self.client.events.read(job_id)]

    def cancel(self, who: TokenInfo, job_id: str) -> dict[str, Any]:
        self._check_owner(who, job_id)
        return {"job_id": job_id, "status": self.client.cancel(job_id)}

    def require_job(self, who: TokenInfo, job_id: str) -> None:
        """JobNotFoundError unless ``who`` submitted ``job_id`` and its record still exists."""
        self._check_owner(who, job_id)
        self.client.store.record(job_id)

    def health(self) -> dict[str, Any]:
        try:
            self.client.redis.ping()
            leader = self.client.leader()
            workers = len(self.client.workers())
        except (TspCeleryError, redis.RedisError):
            return {"status": "degraded", "redis": False, "leader": None, "workers": 0}
        ok = leader is not None and workers > 0
        return {"status": "ok" if ok else "degraded", "redis": True,
                "leader": (leader or {}).get("node_id"), "workers": workers}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def drawing_path(xy: np.ndarray, tour: np.ndarray, points: int) -> list[list[float]]:
    """Coordinates along ``tour``, every k-th node so at most ``points`` remain."""
    step = max(1, -(-len(tour) // max(points, 3)))
    return xy[tour[::step]].round(3).tolist()

