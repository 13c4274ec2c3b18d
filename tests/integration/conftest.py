"""Integration harness: the tests' own Redis, two real Celery workers and a coordinator.

The processes are started once per session with a key prefix of their own (so nothing else in
the test database is touched, and nothing of theirs leaks), each in its own session; teardown
SIGTERMs and then SIGKILLs every process group and deletes the prefix's keys.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis
from processes import Service, wait_until, worker_argv

from tsp_celery.cluster.client import ClusterClient
from tsp_celery.cluster.lease import read_leader
from tsp_celery.cluster.workers import live_workers
from tsp_celery.settings import Settings
from tsp_celery.solver.budget import fits_matrix_budget

WORKERS = 2
# The smallest matrix budget that still fits n = 500: a 1000-node instance then takes the
# decomposition path (initial tour, then segment rounds) while small ones stay islands.
MATRIX_BUDGET_MB = next(mb for mb in range(1, 1 << 16) if fits_matrix_budget(500, mb << 20))
STARTUP_S = 60


class ClusterHarness:
    """The running cluster plus helpers: CLI subprocesses, a client, logs for failures."""

    def __init__(self, tmp: Path, url: str) -> None:
        self.prefix = f"it{uuid.uuid4().hex[:8]}"
        self.url = url
        self.env = {**os.environ, "TSP_CELERY_REDIS_URL": self.url,
                    "TSP_CELERY_PREFIX": self.prefix, "TSP_CELERY_HEARTBEAT_TTL_S": "3",
                    "TSP_CELERY_MATRIX_BUDGET_MB": str(MATRIX_BUDGET_MB),
                    "PYTHONUNBUFFERED": "1"}
        self.settings = Settings.from_env(self.env)
        self.redis = redis.Redis.from_url(self.url)
        self.client = ClusterClient(self.settings, redis=self.redis)
        self.tmp = tmp
        self.services: list[Service] = []

    def start(self) -> None:
        for i in range(WORKERS):
            name = f"w{i + 1}-{self.prefix}"
            self.services.append(Service(name, worker_argv(name), self.env,
                                         self.tmp / f"{name}.log"))
        self.services.append(Service("coordinator", [
            sys.executable, "-m", "tsp_celery", "coordinator", "--node-id", f"c-{self.prefix}"],
            self.env, self.tmp / "coordinator.log"))
        wait_until(lambda: len(live_workers(self.redis, self.client.keys)) >= WORKERS,
                   STARTUP_S, f"{WORKERS} worker heartbeats\n{self.logs()}")
        wait_until(lambda: read_leader(self.redis, self.client.keys), STARTUP_S,
                   "a leader coordinator")

    def stop(self) -> None:
        for service in self.services:
            service.stop(grace_s=10)
        keys = list(self.redis.scan_iter(match=f"{self.prefix}:*", count=1000))
        for i in range(0, len(keys), 500):
            self.redis.delete(*keys[i:i + 500])
        self.redis.close()

    def cli(self, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "tsp_celery", *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout_s)

    def wait_final(self, job_id: str, timeout_s: float = 60) -> dict:
        return wait_until(
            lambda: (st := self.client.status(job_id))["status"] in ("done", "failed",
                                                                     "cancelled") and st,
            timeout_s, f"job {job_id} to end\n{self.logs()}", poll_s=0.2)

    wait_until = staticmethod(wait_until)

    def logs(self) -> str:
        return "\n".join(s.tail() for s in self.services)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory, test_redis_url) -> ClusterHarness:
    # the database of the `redis_url` fixture, which flushes it per test; a session-long
    # cluster cannot be flushed, so it keeps to a prefix of its own instead
    harness = ClusterHarness(tmp_path_factory.mktemp("cluster"), test_redis_url)
    try:
        harness.start()
        yield harness
    finally:
        harness.stop()
