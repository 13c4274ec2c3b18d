"""The leader's per-turn read of its active jobs: one pipelined round trip for all of them, the
same record and round outcome as the one-job reads."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tsp_celery.cluster.client import ClusterClient
from tsp_celery.cluster.driver import poll_jobs
from tsp_celery.cluster.job import JobParams, parse_record
from tsp_celery.problem import Problem
from tsp_celery.settings import Settings

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def client(redis_url) -> ClusterClient:
    return ClusterClient(Settings(redis_url=redis_url, prefix="poll"))


def _job(client: ClusterClient, seed: int) -> str:
    xy = np.random.default_rng(seed).integers(0, 100, size=(12, 2)).astype(float)
    return client.submit(Problem(name=f"p{seed}", edge_weight_type="EUC_2D", coords=xy),
                         JobParams(time_s=5, seed=seed))


def test_records_and_round_outcomes_of_many_jobs_in_one_round_trip(client):
    jobs = [_job(client, s) for s in range(3)]
    outcome = {"round": 2, "closer": "chord"}
    client.redis.hset(client.keys.job_rounds(jobs[1]), "2:merged", json.dumps(outcome))
    client.redis.hset(client.keys.job_units(jobs[2], 1), mapping={"r1-u0": "{}", "r1-u1": "{}"})
    client.redis.zadd(client.keys.job_elite(jobs[0]), {b"tour a": 10.0, b"tour b": 11.0})
    executes = []
    real = client.store.redis

    class OnlyPipelines:
        """The store's Redis, refusing any direct command: every read must be pipelined."""

        def pipeline(self, **kwargs):
            pipe = real.pipeline(**kwargs)
            run = pipe.execute
            pipe.execute = lambda: executes.append(len(pipe.command_stack)) or run()
            return pipe

    client.store.redis = OnlyPipelines()
    try:
        polled = poll_jobs(client.store, {jobs[0]: 0, jobs[1]: 2, jobs[2]: 1, "gone": 0})
    finally:
        client.store.redis = real
    assert executes == [16]  # one round trip: record, outcome, units reported, pool per job
    for job_id in jobs:
        assert parse_record(polled[job_id].record) == client.store.record(job_id)
    assert json.loads(polled[jobs[1]].merged) == outcome == client.store.round_merged(jobs[1], 2)
    assert polled[jobs[0]].merged is None and polled[jobs[2]].merged is None
    assert [polled[j].reported for j in jobs] == [0, 0, 2]
    assert [polled[j].pool for j in jobs] == [2, 0, 0]
    assert polled["gone"].record == {}  # the job's own step then raises JobNotFoundError


def test_no_jobs_no_round_trip(client):
    assert poll_jobs(client.store, {}) == {}
