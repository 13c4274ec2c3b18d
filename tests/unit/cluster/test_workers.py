"""Worker registry: live workers and slots appear at the first beat and vanish with the TTL."""

from __future__ import annotations

import time

import pytest

from tsp_celery.cluster.workers import Heartbeat, beat, forget, live_slots, live_workers

pytestmark = pytest.mark.timeout(20)


def test_beats_make_workers_visible_and_expiry_removes_them(any_redis, keys):
    beat(any_redis, keys, "w1@h", {"slots": 2, "units": []}, ttl_s=0.4)
    beat(any_redis, keys, "w2@h", {"slots": 1, "units": [{"unit_id": "r1-u0"}]}, ttl_s=5)
    workers = live_workers(any_redis, keys)
    assert [w["worker"] for w in workers] == ["w1@h", "w2@h"]
    assert workers[1]["units"] == [{"unit_id": "r1-u0"}] and workers[1]["seen_at"] > 0
    assert live_slots(any_redis, keys) == 3
    time.sleep(0.6)
    assert [w["worker"] for w in live_workers(any_redis, keys)] == ["w2@h"]
    assert any_redis.zrange(keys.workers(), 0, -1) == [b"w2@h"]  # the index is pruned too
    forget(any_redis, keys, "w2@h")
    assert live_slots(any_redis, keys) == 0


def test_heartbeat_thread_beats_until_stopped(any_redis, keys):
    calls = []

    def describe() -> dict:
        calls.append(1)
        return {"slots": 4}

    hb = Heartbeat(any_redis, keys, "w@h", describe, ttl_s=0.3)
    hb.start()
    try:
        deadline = time.monotonic() + 5
        while live_slots(any_redis, keys) != 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert live_slots(any_redis, keys) == 4
        time.sleep(0.5)  # longer than the TTL: only repeated beats keep the key alive
        assert live_slots(any_redis, keys) == 4 and len(calls) >= 3
    finally:
        hb.stop()
    assert live_workers(any_redis, keys) == []
