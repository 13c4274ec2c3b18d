"""Retention: finished jobs, their tours, rounds and event streams expire; the index forgets
expired jobs; a job the store lost is told apart from an unknown one."""

from __future__ import annotations

import numpy as np
import pytest

from tsp_celery.cluster.events import EventLog, EventType
from tsp_celery.cluster.job import JobParams, JobStatus
from tsp_celery.cluster.lease import LeaderLease
from tsp_celery.cluster.store import JobStore
from tsp_celery.errors import JobLostError, JobNotFoundError
from tsp_celery.problem import Problem
from tsp_celery.settings import Settings


@pytest.fixture
def store(any_redis, keys) -> JobStore:
    return JobStore(any_redis, keys, Settings(prefix=keys.prefix, retention_s=3600))


def finished_job(store: JobStore) -> str:
    xy = np.random.default_rng(2).integers(0, 100, (10, 2)).astype(float)
    job_id = store.submit(Problem(name="t10", edge_weight_type="EUC_2D", coords=xy),
                          JobParams(time_s=5))
    lease = LeaderLease(store.redis, store.keys, "c1", 0, 60_000, 1000)
    if lease.try_acquire() is False:
        lease._value = store.lease_value()
    assert store.admit(job_id, lease.fence, "c1")[0] == "running"
    EventLog(store.redis, store.keys).append(job_id, EventType.ADMITTED, "c1", 1,
                                             fence=lease.fence)
    store.finish(job_id, JobStatus.DONE, lease.fence)
    return job_id


def test_a_finished_job_expires_with_its_event_stream_and_the_index_forgets_it(store):
    job_id = finished_job(store)
    for key in (store.keys.job(job_id), store.keys.job_events(job_id)):
        assert 0 < store.redis.ttl(key) <= 3600, key
    assert store.purge() == {"forgotten": 0, "expiring": 0}
    store.redis.delete(store.keys.job(job_id), store.keys.job_events(job_id))  # retention over
    assert store.purge() == {"forgotten": 1, "expiring": 0}
    assert store.job_ids() == []


def test_purge_puts_finished_jobs_without_an_expiry_on_the_retention_clock(store):
    job_id = finished_job(store)
    for key in store.redis.keys(f"{store.keys.prefix}:job:*"):
        store.redis.persist(key)  # as a job finished before retention was kept
    assert store.purge() == {"forgotten": 0, "expiring": 1}
    assert 0 < store.redis.ttl(store.keys.job(job_id)) <= 3600
    assert 0 < store.redis.ttl(store.keys.job_events(job_id)) <= 3600


def test_a_job_lost_with_the_stores_data_is_not_an_unknown_job(store):
    job_id = finished_job(store)
    store.redis.delete(store.keys.job(job_id))
    with pytest.raises(JobNotFoundError, match="unknown, or expired") as info:
        store.record(job_id)  # same epoch: expired (or never there)
    assert not isinstance(info.value, JobLostError)
    store.redis.delete(*store.redis.keys(f"{store.keys.prefix}:*"))  # restarted without data
    store.epoch()  # ... and got a new epoch with its first write
    with pytest.raises(JobLostError, match=r"lost by the store \(Redis restarted without its "
                                           r"data\): resubmit"):
        store.record(job_id)
    with pytest.raises(JobLostError):
        store.cancel(job_id)


def test_event_streams_are_capped(any_redis, keys):
    events = EventLog(any_redis, keys, maxlen=50)
    for i in range(500):
        events.append("j", EventType.UNIT_STARTED, "w", i)
    assert any_redis.xlen(keys.job_events("j")) < 200  # MAXLEN ~ trims in whole nodes
