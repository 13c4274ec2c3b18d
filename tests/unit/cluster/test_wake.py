"""The leader's wake list: events it must act on wake its loop at once, on a real Redis, even
when its timed turn is far away."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import redis

from tests.unit.cluster.test_coordinator import Recorder, finish_units
from tsp_celery.cluster import coordinator as coordinator_module
from tsp_celery.cluster.client import ClusterClient
from tsp_celery.cluster.coordinator import Coordinator
from tsp_celery.cluster.events import EventLog, EventType, wait_for_wake, wake_leader
from tsp_celery.cluster.workers import beat
from tsp_celery.problem import Problem
from tsp_celery.settings import Settings

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def client(redis_url, keys) -> ClusterClient:
    return ClusterClient(Settings(redis_url=redis_url, prefix=keys.prefix, lease_ttl_ms=5000,
                                  lease_renew_ms=200))


def _until(check, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return False


def test_events_the_leader_acts_on_wake_it_once_and_others_do_not(client):
    events, r, keys = client.events, client.redis, client.keys
    for _ in range(3):
        events.append("j1", EventType.SUBMITTED, "client", 1)
    assert r.llen(keys.wake()) == 1  # however many pile up
    assert wait_for_wake(r, keys, 0.5) and not wait_for_wake(r, keys, 0.05)
    events.append("j1", EventType.IMPROVED, "leader", 2)
    events.append("j1", EventType.UNIT_STARTED, "worker", 3)
    assert not wait_for_wake(r, keys, 0.05)
    wake_leader(r, keys)
    assert wait_for_wake(r, keys, 0.5)


def test_a_submission_and_the_last_unit_wake_a_leader_whose_timed_turn_is_far(
        client, monkeypatch):
    monkeypatch.setattr(coordinator_module, "WAKE_WAIT_S", 30.0)
    beat(client.redis, client.keys, "w1", {"slots": 2}, ttl_s=30)
    coord = Coordinator(client.settings, "c1", dispatcher=Recorder(),
                        redis=redis.Redis.from_url(client.settings.redis_url))
    loop = threading.Thread(target=coord.run)
    loop.start()
    try:
        assert _until(lambda: coord._leading)
        time.sleep(0.3)  # the loop is now blocked on the wake list
        xy = np.random.default_rng(0).integers(0, 1000, size=(30, 2)).astype(float)
        p = Problem(name="u30", edge_weight_type="EUC_2D", coords=xy)
        job_id = client.submit(p, {"time_s": 30})
        assert _until(lambda: len(coord.dispatcher.rounds) == 1, 3.0)  # admitted, planned
        (_, plan, _, _), = coord.dispatcher.rounds
        time.sleep(0.3)
        finish_units(coord, client, job_id, plan, p)  # what workers store, then log:
        for unit in plan.units:
            client.events.append(job_id, EventType.UNIT_FINISHED, "w1", 5,
                                 {"round": 1, "unit": unit.unit_id})
        assert _until(lambda: client.store.round_merged(job_id, 1) is not None, 3.0)
        assert client.store.round_merged(job_id, 1)["closer"] == "leader"
        assert _until(lambda: len(coord.dispatcher.rounds) == 2, 3.0)
    finally:
        coord.stop()
        wake_leader(client.redis, client.keys)
        loop.join(timeout=10)
    assert not loop.is_alive()
    assert EventType.ROUND_MERGED in [e.type for e in EventLog(client.redis,
                                                               client.keys).read(job_id)]
