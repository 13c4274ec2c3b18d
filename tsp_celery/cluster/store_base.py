"""The layer every store shares: one Redis connection, the key schema, the Lua scripts a store
declares (``SCRIPTS``), durability (WAIT) and the store's epoch."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import numpy as np

from tsp_celery.cluster import scripts
from tsp_celery.cluster.codec import decode_tour
from tsp_celery.cluster.keys import Keys
from tsp_celery.cluster.lease import new_epoch_id
from tsp_celery.errors import JobLostError, JobNotFoundError
from tsp_celery.settings import Settings

log = logging.getLogger(__name__)

# Intermediate data (unit tours, round bases, delivery counters) is needed for one round only;
# this TTL just keeps it from leaking when a round is abandoned (e.g. a leader change).
SCRATCH_TTL_S = 6 * 3600
# Job ids: "<store epoch>-<random>", so a job the store lost is told apart from an unknown one.
JOB_ID = re.compile(r"([0-9a-f]{8})-[0-9a-f]{12}")


def as_text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def json_default(value: Any) -> Any:
    """numpy scalars in solver summaries become plain numbers."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON-able: {type(value).__name__}")


def lua_number(length: float) -> str:
    """A length as Lua's tonumber reads it back exactly (integers without a dot)."""
    return str(int(length)) if float(length).is_integer() else repr(float(length))


class StoreBase:
    """A store on one deployment (everything under ``keys.prefix``); every multi-key change is
    one of the Lua scripts its classes name in ``SCRIPTS`` (see ``scripts.py``)."""

    SCRIPTS: tuple[str, ...] = ()

    def __init__(self, redis, keys: Keys, settings: Settings) -> None:
        self.redis = redis
        self.keys = keys
        self.settings = settings
        names = dict.fromkeys(n for c in type(self).__mro__ for n in vars(c).get("SCRIPTS", ()))
        self._scripts = {name: redis.register_script(getattr(scripts, name)) for name in names}

    def replicate(self, what: str) -> bool:
        """WAIT until ``settings.wait_replicas`` replicas hold every write made so far (True at
        once with 0). A shortfall is logged and returns False: the commit is not durable yet.

        WAIT counts the offset of its own connection's last write, and pooled calls may run on
        another connection than the commit did: a small write first makes the WAIT cover every
        earlier write, whichever connection made it."""
        wanted = self.settings.wait_replicas
        if wanted <= 0:
            return True
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(self.keys.replication_mark(), f"{time.time():.6f}", px=SCRATCH_TTL_S * 1000)
        pipe.execute_command("WAIT", wanted, self.settings.wait_timeout_ms)
        acked = int(pipe.execute()[1])
        if acked < wanted:
            log.warning("%s: only %d of %d replica(s) confirmed within %d ms: not durable yet "
                        "(a failover now could lose it)", what, acked, wanted,
                        self.settings.wait_timeout_ms)
        return acked >= wanted

    def epoch(self) -> str:
        """The store's epoch id, created now if the store has none (first write wins)."""
        self.redis.set(self.keys.epoch(), new_epoch_id(), nx=True)
        return as_text(self.redis.get(self.keys.epoch()))

    def missing(self, job_id: str) -> JobNotFoundError:
        """The error for a job without a record: lost with the store's data when its id names
        another epoch than the store's (job ids are ``<epoch>-<random>``), else unknown."""
        match = JOB_ID.fullmatch(job_id)
        if match and match.group(1) != as_text(self.redis.get(self.keys.epoch())):
            return JobLostError(f"job {job_id} lost by the store (Redis restarted without its "
                                f"data): resubmit")
        return JobNotFoundError(f"no job {job_id!r} (unknown, or expired after retention)")

    def lease_value(self) -> str | None:
        """The leader lease's value now (the fence every control write must carry)."""
        return as_text(self.redis.get(self.keys.lease()))

    def _tour(self, key: str) -> np.ndarray | None:
        raw = self.redis.get(key)
        return None if raw is None else decode_tour(raw)
