"""check_health against a real Redis, with the keys written the way the cluster code writes them."""

from __future__ import annotations

import json
import socket
import time

import pytest
import redis
from processes import free_port

from tsp_celery.cluster.connection import redact_url
from tsp_celery.cluster.keys import Keys
from tsp_celery.cluster.lease import LeaderLease
from tsp_celery.cluster.workers import beat
from tsp_celery.health import check_health
from tsp_celery.settings import Settings

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def settings(redis_url: str) -> Settings:
    return Settings.from_env({}, redis_url=redis_url, prefix="hc")


@pytest.fixture
def client(redis_url: str):
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


def lease_for(client, settings: Settings, node_id: str, priority: int = 10) -> LeaderLease:
    return LeaderLease(client, Keys(settings.prefix), node_id, priority,
                       settings.lease_ttl_ms, settings.lease_renew_ms)


def add_worker(client, settings: Settings, worker_id: str, ttl_s: float = 6.0,
               slots: int = 2) -> None:
    """One heartbeat, written as a worker's main process writes it (tasks/signals.py)."""
    record = {"host": socket.gethostname(), "pid": 1, "slots": slots, "units": []}
    beat(client, Keys(settings.prefix), worker_id, record, ttl_s)


def test_unreachable_redis_fails_every_role_quickly_and_hides_the_password():
    url = f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    for role in ("any", "coordinator", "worker"):
        report = check_health(Settings.from_env({}, redis_url=url), role, timeout_s=0.5)
        assert not report.ok and not report.redis_ok
        assert "unreachable" in report.reason
        assert "s3cret" not in report.reason and "***" in report.reason


def test_worker_role_needs_only_redis(settings):
    report = check_health(settings, "worker")
    assert report.ok, report.reason
    assert report.reason.startswith("ok")


def test_coordinator_role_needs_a_leader(settings, client):
    report = check_health(settings, "coordinator")
    assert not report.ok
    assert "no leader" in report.reason

    lease = lease_for(client, settings, "coord-a")
    assert lease.try_acquire()
    report = check_health(settings, "coordinator")
    assert report.ok, report.reason
    assert report.leader["node_id"] == "coord-a"
    assert "coord-a" in report.reason


def test_expired_lease_is_no_leader(settings, client):
    keys = Keys(settings.prefix)
    client.set(keys.lease(), "coord-a:7", px=50)
    time.sleep(0.15)
    report = check_health(settings, "coordinator")
    assert not report.ok and "no leader" in report.reason


def test_released_lease_is_no_leader(settings, client):
    lease = lease_for(client, settings, "coord-a")
    assert lease.try_acquire()
    lease.release()
    assert not check_health(settings, "coordinator").ok


def test_corrupt_lease_value_is_reported(settings, client):
    client.set(Keys(settings.prefix).lease(), "garbage", px=3000)
    report = check_health(settings, "coordinator")
    assert not report.ok and "corrupt" in report.reason


def test_node_id_checks_that_coordinators_own_heartbeat(settings, client):
    leader = lease_for(client, settings, "coord-a", priority=100)
    standby = lease_for(client, settings, "coord-b", priority=50)
    assert leader.step()  # heartbeat + acquire (a vacancy, and nobody ranks higher)
    standby.step()        # heartbeat only: the lease is taken
    assert check_health(settings, "coordinator", node_id="coord-a").ok
    report = check_health(settings, "coordinator", node_id="coord-b")
    assert report.ok, report.reason
    assert report.node["role"] == "standby"

    report = check_health(settings, "coordinator", node_id="coord-c")
    assert not report.ok and "coord-c" in report.reason

    # A wedged standby: its heartbeat gets older than the lease TTL.
    record = json.loads(client.hget(Keys(settings.prefix).coordinators(), "coord-b"))
    record["seen_at"] -= settings.lease_ttl_ms / 1000.0 + 1
    client.hset(Keys(settings.prefix).coordinators(), "coord-b", json.dumps(record))
    assert not check_health(settings, "coordinator", node_id="coord-b").ok


def test_any_role_needs_a_live_worker(settings, client):
    assert lease_for(client, settings, "coord-a").try_acquire()
    report = check_health(settings, "any")
    assert not report.ok
    assert report.workers == 0 and "0 live worker" in report.reason

    add_worker(client, settings, "w1")
    report = check_health(settings, "any")
    assert report.ok, report.reason
    assert report.workers == 1 and report.slots == 2
    assert "1 live worker(s) with 2 slot(s)" in report.reason


def test_min_workers_counts_live_heartbeats_only(settings, client):
    add_worker(client, settings, "w1")
    add_worker(client, settings, "w2")
    add_worker(client, settings, "gone", ttl_s=0.05)
    time.sleep(0.15)
    assert check_health(settings, "worker", min_workers=2).ok
    report = check_health(settings, "worker", min_workers=3)
    assert not report.ok
    assert report.workers == 2 and "need at least 3" in report.reason


def test_other_prefixes_do_not_count(settings, client, redis_url):
    other = Settings.from_env({}, redis_url=redis_url, prefix="other")
    assert lease_for(client, other, "coord-x").try_acquire()
    add_worker(client, other, "w1")
    assert not check_health(settings, "coordinator").ok
    assert not check_health(settings, "worker", min_workers=1).ok


def test_redact_url():
    assert redact_url("redis://:pw@h:6379/0") == "redis://:***@h:6379/0"
    assert redact_url("rediss://user:pw@h:6380/1") == "rediss://user:***@h:6380/1"
    assert redact_url("redis://h:6379/0") == "redis://h:6379/0"


def test_unknown_role_is_a_usage_error(settings):
    with pytest.raises(ValueError, match="role"):
        check_health(settings, "bogus")
