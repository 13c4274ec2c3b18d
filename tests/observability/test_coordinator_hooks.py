"""The coordinator's own instruments move when it campaigns, wins, recovers and loses Redis."""

from __future__ import annotations

import threading
import uuid

import pytest
import redis
from processes import free_port, wait_until

from tsp_celery.cluster.connection import connect
from tsp_celery.cluster.coordinator import Coordinator
from tsp_celery.metrics import instruments as m
from tsp_celery.settings import Settings

pytestmark = pytest.mark.timeout(60)


def _value(name: str, **labels: str) -> float:
    return m.COORDINATOR.get_sample_value(name, labels) or 0.0


def test_winning_the_lease_counts_an_acquisition_a_recovery_and_lease_turns(redis_url):
    settings = Settings.from_env({"TSP_CELERY_REDIS_URL": redis_url,
                                  "TSP_CELERY_PREFIX": f"h{uuid.uuid4().hex[:8]}"})
    client = redis.Redis.from_url(redis_url)
    names = ("tsp_celery_leader_acquisitions_total", "tsp_celery_recovery_duration_seconds_count",
             "tsp_celery_lease_step_duration_seconds_count")
    before = [_value(n) for n in names]
    coordinator = Coordinator(settings, "hooks-c1", redis=client)
    thread = threading.Thread(target=coordinator.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: coordinator.lease.is_leader, 20, "the lease")
        wait_until(lambda: _value(names[2]) >= before[2] + 2, 20, "lease turns")
    finally:
        coordinator.stop()
        thread.join(timeout=10)
        client.close()
    assert _value(names[0]) == before[0] + 1
    assert _value(names[1]) == before[1] + 1


def test_redis_down_is_counted_by_error_class():
    settings = Settings.from_env({"TSP_CELERY_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    coordinator = Coordinator(settings, "hooks-c2",
                              redis=connect(settings.redis_url, ping=False))
    name = "tsp_celery_redis_errors_total"
    before = _value(name, error="ConnectionError")
    thread = threading.Thread(target=coordinator.run, daemon=True)
    thread.start()  # the lease keeper's first turn meets a Redis that is not there
    try:
        wait_until(lambda: _value(name, error="ConnectionError") > before, 20,
                   "a counted ConnectionError")
    finally:
        coordinator.stop()
        thread.join(timeout=10)
    assert thread.is_alive() is False  # it backed off and stopped when told, never crashed
    assert not coordinator.lease.is_leader
