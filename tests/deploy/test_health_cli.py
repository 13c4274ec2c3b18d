"""`tsp-celery health` as a probe runs it: a real subprocess, judged by exit code and one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import redis

from tsp_celery.cluster.keys import Keys
from tsp_celery.cluster.lease import LeaderLease
from tsp_celery.cluster.workers import beat

pytestmark = pytest.mark.timeout(60)
PREFIX = "hccli"
# The lease of this test's coordinator; the CLI is told it too (a heartbeat older than one TTL is
# stale), so a CLI slow to start on a loaded machine does not see a fresh heartbeat as stale.
LEASE_TTL_MS = 30_000


def health(redis_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TSP_CELERY_REDIS_URL": redis_url, "TSP_CELERY_PREFIX": PREFIX,
           "TSP_CELERY_LEASE_TTL_MS": str(LEASE_TTL_MS)}
    return subprocess.run([sys.executable, "-m", "tsp_celery", "health", *args], env=env,
                          capture_output=True, text=True, timeout=30)


def test_exit_codes_follow_the_cluster_state(redis_url):
    client = redis.Redis.from_url(redis_url)
    keys = Keys(PREFIX)

    proc = health(redis_url, "--role", "worker")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("ok") and proc.stdout.count("\n") == 1

    proc = health(redis_url, "--role", "coordinator")
    assert proc.returncode == 1
    assert "no leader" in proc.stdout and proc.stdout.count("\n") == 1

    lease = LeaderLease(client, keys, "coord-a", 100, ttl_ms=LEASE_TTL_MS, renew_ms=10_000)
    assert lease.step()
    assert health(redis_url, "--role", "coordinator").returncode == 0
    assert health(redis_url, "--role", "coordinator", "--node-id", "coord-a").returncode == 0
    assert health(redis_url, "--role", "coordinator", "--node-id", "coord-z").returncode == 1

    proc = health(redis_url)  # --role any: a leader, but no worker yet
    assert proc.returncode == 1 and "worker" in proc.stdout

    beat(client, keys, "w1", {"slots": 1}, ttl_s=30)
    assert health(redis_url).returncode == 0
    assert health(redis_url, "--min-workers", "2").returncode == 1
    client.close()


def test_json_output_is_one_parseable_object(redis_url):
    proc = health(redis_url, "--role", "worker", "--min-workers", "1", "--json")
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["ok"] is False and report["redis_ok"] is True
    assert report["workers"] == 0 and report["role"] == "worker"


def test_unreachable_redis_exits_1_not_a_traceback():
    proc = health("redis://127.0.0.1:1/0", "--timeout", "0.5")
    assert proc.returncode == 1
    assert "unreachable" in proc.stdout and "Traceback" not in proc.stderr


@pytest.mark.parametrize("args", [["--role", "leader"], ["--role", "worker", "--node-id", "a"],
                                  ["--min-workers", "-1"]])
def test_bad_usage_exits_2(redis_url, args):
    assert health(redis_url, *args).returncode == 2


def test_bad_redis_url_exits_2():
    assert health("http://example.invalid").returncode == 2
