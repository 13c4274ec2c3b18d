"""Event log: Lamport order on read, fenced appends with state, bounded length, follow."""

from __future__ import annotations

import threading
import time

import pytest

from tsp_celery.cluster.events import (
    SCRIPT_EVENT_LUA,
    EventLog,
    EventType,
    ScriptEvent,
    script_event_keys,
)
from tsp_celery.cluster.lamport import LamportClock
from tsp_celery.cluster.lease import LeaderLease
from tsp_celery.errors import FencedWriteError


def test_read_orders_by_lamport_then_node_not_by_arrival(any_redis, keys):
    log = EventLog(any_redis, keys)
    log.append("j", EventType.UNIT_FINISHED, "w2", 9, {"unit_id": "r1-u1", "length": 7542})
    log.append("j", EventType.ROUND_PLANNED, "c1", 3, {"round": 1})
    log.append("j", EventType.UNIT_STARTED, "w2", 5, {"unit_id": "r1-u1"})
    log.append("j", EventType.UNIT_STARTED, "w1", 5, {"unit_id": "r1-u0"})
    events = log.read("j")
    assert [(e.lamport, e.node) for e in events] == [(3, "c1"), (5, "w1"), (5, "w2"), (9, "w2")]
    assert events[0].type is EventType.ROUND_PLANNED and events[0].job_id == "j"
    assert events[-1].data == {"unit_id": "r1-u1", "length": 7542}
    assert abs(events[-1].wall - time.time()) < 60
    assert events[-1].to_dict()["type"] == "unit_finished"
    assert log.read("other") == []


def test_emit_stamps_with_a_fresh_tick(any_redis, keys):
    log, clock = EventLog(any_redis, keys), LamportClock("c1", start=41)
    log.emit("j", EventType.SUBMITTED, clock, {"n": 52})
    (event,) = log.read("j")
    assert (event.node, event.lamport) == ("c1", 42) and clock.value == 42
    assert log.max_lamport("j") == 42 and log.max_lamport("none") == 0


def test_fenced_append_changes_state_and_log_together_or_not_at_all(any_redis, keys):
    lease = LeaderLease(any_redis, keys, "c1", 0, 3000, 1000)
    assert lease.try_acquire()
    log = EventLog(any_redis, keys)
    log.append("j", EventType.ADMITTED, "c1", 1, fence=lease.fence,
               record={"status": "running", "round": 0, "params": {"time": 5}})
    record = any_redis.hgetall(keys.job("j"))
    assert record[b"status"] == b"running" and record[b"round"] == b"0"
    assert record[b"params"] == b'{"time": 5}'
    with pytest.raises(FencedWriteError):
        log.append("j", EventType.DONE, "c1", 2, fence="c1:0", record={"status": "done"})
    assert any_redis.hget(keys.job("j"), "status") == b"running"
    assert [e.type for e in log.read("j")] == [EventType.ADMITTED]


@pytest.mark.parametrize("data", [{}, {"round": 3}])
def test_a_script_adds_the_fields_it_decides_to_its_events_data(any_redis, keys, data):
    log = EventLog(any_redis, keys)
    add = any_redis.register_script(SCRIPT_EVENT_LUA + "return script_event('', 1, 1, ARGV[8])")
    event = ScriptEvent(EventType.IMPROVED.value, "w1", 7, data, log.maxlen)
    add(keys=script_event_keys(keys, "j"), args=[*ScriptEvent.args(event), '"length":12.5'])
    (stored,) = log.read("j")
    assert (stored.type, stored.node, stored.lamport) == (EventType.IMPROVED, "w1", 7)
    assert stored.data == {**data, "length": 12.5}


def test_log_is_bounded(any_redis, keys):
    log = EventLog(any_redis, keys, maxlen=10)
    for i in range(400):
        log.append("j", EventType.IMPROVED, "c1", i)
    length = any_redis.xlen(keys.job_events("j"))
    assert 10 <= length < 400  # MAXLEN ~ trims whole stream nodes
    assert log.read("j")[-1].lamport == 399


def test_recent_looks_back_no_further_than_since(any_redis, keys):
    log = EventLog(any_redis, keys)
    log.append("j", EventType.UNIT_STARTED, "w", 1, {"round": 1})
    planned = log.append("j", EventType.ROUND_PLANNED, "c", 2, {"round": 2})
    log.append("j", EventType.UNIT_STARTED, "w", 3, {"round": 2})
    assert [e.lamport for e in log.recent("j", 10)] == [3, 2, 1]
    assert [e.lamport for e in log.recent("j", 10, since=planned)] == [3, 2]
    assert [e.lamport for e in log.recent("j", 1, since=planned)] == [3]


def test_malformed_entries_do_not_break_readers(any_redis, keys):
    any_redis.xadd(keys.job_events("j"), {"type": "mystery", "lamport": "x", "data": "{oops"})
    (event,) = EventLog(any_redis, keys).read("j")
    assert event.type == "mystery" and event.lamport == 0 and event.data == {"raw": "{oops"}


def test_follow_yields_history_then_live_events_until_final(any_redis, keys):
    log = EventLog(any_redis, keys)
    log.append("j", EventType.SUBMITTED, "cli", 1)

    def later():
        time.sleep(0.3)
        log.append("j", EventType.ADMITTED, "c1", 2)
        log.append("j", EventType.DONE, "c1", 3, {"length": 7542})
        log.append("j", EventType.IMPROVED, "c1", 4)

    thread = threading.Thread(target=later)
    thread.start()
    seen = [e.type for e in log.follow("j", block_ms=200)]
    thread.join()
    assert seen == [EventType.SUBMITTED, EventType.ADMITTED, EventType.DONE]
    # A job that is already over: history only, no blocking.
    assert [e.lamport for e in log.follow("j", block_ms=200)] == [1, 2, 3, 4]
