"""`tsp-celery events` and `tsp-celery cluster`, run as real subprocesses against real Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
import redis

from tsp_celery.cluster.events import EventLog, EventType
from tsp_celery.cluster.keys import Keys
from tsp_celery.cluster.lease import LeaderLease


@pytest.fixture
def env(redis_url):
    prefix = f"t{uuid.uuid4().hex[:8]}"
    return {**os.environ, "TSP_CELERY_REDIS_URL": redis_url, "TSP_CELERY_PREFIX": prefix}


def run(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tsp_celery", *args], env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.timeout(60)
def test_events_prints_the_log_in_lamport_order(env):
    client, keys = redis.Redis.from_url(env["TSP_CELERY_REDIS_URL"]), Keys(env["TSP_CELERY_PREFIX"])
    log = EventLog(client, keys)
    log.append("j1", EventType.UNIT_FINISHED, "worker-b", 7, {"unit_id": "r1-u0", "length": 426})
    log.append("j1", EventType.SUBMITTED, "cli", 1, {"n": 52})
    log.append("j1", EventType.ROUND_PLANNED, "coord-a", 4, {"round": 1})
    log.append("j1", EventType.DONE, "coord-a", 9, {"best_length": 426})

    out = run(env, "events", "j1", "--json")
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    assert [e["type"] for e in listed] == ["submitted", "round_planned", "unit_finished", "done"]
    assert listed[2]["node"] == "worker-b" and listed[2]["data"]["length"] == 426

    text = run(env, "events", "j1")
    lines = text.stdout.strip().splitlines()
    assert text.returncode == 0 and len(lines) == 5
    assert "submitted" in lines[1] and "done" in lines[4] and "best_length=426" in lines[4]

    followed = run(env, "events", "j1", "--follow", "--json")  # ends: the job is done
    assert [json.loads(x)["lamport"] for x in followed.stdout.splitlines()] == [1, 4, 7, 9]


@pytest.mark.timeout(60)
def test_events_of_an_unknown_job_is_a_clear_error(env):
    out = run(env, "events", "no-such-job")
    assert out.returncode == 2
    assert out.stderr.strip() == "error: no job 'no-such-job' in the cluster (it may have expired)"


@pytest.mark.timeout(60)
def test_cluster_shows_leader_term_and_standbys(env):
    client, keys = redis.Redis.from_url(env["TSP_CELERY_REDIS_URL"]), Keys(env["TSP_CELERY_PREFIX"])
    empty = json.loads(run(env, "cluster", "--json").stdout)
    assert empty["leader"] is None and empty["coordinators"] == []
    leader = LeaderLease(client, keys, "coord-a", 5, 30_000, 1000)
    standby = LeaderLease(client, keys, "coord-b", 1, 30_000, 1000)
    assert leader.try_acquire()
    leader.heartbeat()
    standby.heartbeat()

    view = json.loads(run(env, "cluster", "--json").stdout)
    assert view["leader"]["node_id"] == "coord-a" and view["leader"]["term"] == 1
    assert view["term"] == 1 and 0 <= view["last_renewal_s"] < 30
    assert view["standbys"] == ["coord-b"]
    assert [(c["node_id"], c["priority"], c["role"]) for c in view["coordinators"]] == [
        ("coord-a", 5, "leader"), ("coord-b", 1, "standby")]

    text = run(env, "cluster")
    assert text.returncode == 0
    assert "leader: coord-a  term 1" in text.stdout and "coord-b" in text.stdout


@pytest.mark.timeout(60)
def test_unreachable_redis_exits_3(env):
    out = run({**env, "TSP_CELERY_REDIS_URL": "redis://127.0.0.1:1/0"}, "cluster")
    assert out.returncode == 3 and out.stderr.startswith("error: cannot reach Redis")
