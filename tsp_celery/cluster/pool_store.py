"""What a job keeps besides its rounds: the elite pool, first-tour parts, cached lower bounds."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from tsp_celery.cluster.codec import decode_tour, encode_tour
from tsp_celery.cluster.lease import call_fenced
from tsp_celery.cluster.store_base import SCRATCH_TTL_S, StoreBase, lua_number
from tsp_celery.solver import ELITE_SIZE


class PoolStore(StoreBase):
    """The elite pool (fenced), the parts of a partition first tour, bounds per instance."""

    SCRIPTS = ("OFFER_ELITE",)

    def offer_elite(self, job_id: str, tours: Sequence[tuple[float, np.ndarray]], fence: str,
                    size: int = ELITE_SIZE) -> int:
        """Add (length, tour) pairs to the job's elite pool, which keeps the ``size`` shortest
        distinct lengths; returns the pool's size (0 once the job is final).

        The caller validated the tours and computed their exact lengths. Offering the same tours
        again changes nothing, so a round closed twice cannot corrupt the pool.
        """
        keys = [self.keys.lease(), self.keys.job(job_id), self.keys.job_elite(job_id)]
        args: list[Any] = [fence, size]
        for length, tour in tours:
            args += [lua_number(length), encode_tour(tour)]
        return int(call_fenced(self._scripts["OFFER_ELITE"], keys, args, fence))

    def elite_size(self, job_id: str) -> int:
        """How many tours the job's elite pool holds."""
        return int(self.redis.zcard(self.keys.job_elite(job_id)))

    def elite_tours(self, job_id: str) -> list[np.ndarray]:
        """The job's elite pool, shortest first (empty before its first island round)."""
        return [decode_tour(raw) for raw in self.redis.zrange(self.keys.job_elite(job_id), 0, -1)]

    def store_part(self, job_id: str, index: int, cycle: np.ndarray) -> None:
        """Keep a part's tour until the first tour is joined from all parts (scratch TTL)."""
        self.redis.set(self.keys.initial_part(job_id, index), encode_tour(cycle),
                       ex=SCRATCH_TTL_S)

    def take_parts(self, job_id: str, count: int) -> list[np.ndarray | None]:
        """The tours of parts 0..count-1 (None where one is missing), removing them."""
        keys = [self.keys.initial_part(job_id, i) for i in range(count)]
        raws = self.redis.mget(keys)
        self.redis.delete(*keys)
        return [None if raw is None else decode_tour(raw) for raw in raws]

    def set_bound(self, content_hash: str, bound: dict) -> None:
        self.redis.set(self.keys.bound(content_hash), json.dumps(bound),
                       ex=self.settings.retention_s)

    def offer_bound(self, content_hash: str, bound: dict) -> bool:
        """Keep ``bound`` if it beats the cached one (a valid bound before an estimate, then
        the higher); True when it was kept."""
        cached = self.get_bound(content_hash)
        if cached is not None and ((bound["proven"], bound["value"])
                                   < (cached.get("proven", False), cached.get("value", 0.0))):
            return False
        self.set_bound(content_hash, bound)
        return True

    def get_bound(self, content_hash: str) -> dict | None:
        raw = self.redis.get(self.keys.bound(content_hash))
        return None if raw is None else json.loads(raw)
