"""All of a deployment's stores on one connection, for callers that use several of them.

The parts (job_queue, round_store, pool_store, on store_base) each own one concept.
"""

from __future__ import annotations

from tsp_celery.cluster.job_queue import JobQueue
from tsp_celery.cluster.pool_store import PoolStore
from tsp_celery.cluster.round_store import RoundStore


class JobStore(JobQueue, RoundStore, PoolStore):
    """Instances, jobs and the queue, rounds and units, the pool and bounds."""
