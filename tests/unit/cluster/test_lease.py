"""Leader lease: fencing token per acquisition, compare-and-set renew/release, local step-down,
and bully candidacy (highest live priority wins a vacancy; a leader is never pre-empted)."""

from __future__ import annotations

import json
import time

import pytest

from tsp_celery.cluster.events import EventLog, EventType
from tsp_celery.cluster.lease import LeaderLease, parse_fence, read_coordinators, read_leader
from tsp_celery.errors import FencedWriteError


def make(r, keys, node, priority=0, ttl_ms=3000, renew_ms=1000, **kw) -> LeaderLease:
    return LeaderLease(r, keys, node, priority, ttl_ms, renew_ms, **kw)


def test_acquire_is_exclusive_and_every_acquisition_gets_a_new_term(any_redis, keys):
    a, b = make(any_redis, keys, "a"), make(any_redis, keys, "b")
    assert a.try_acquire()
    epoch = any_redis.get(keys.epoch()).decode()  # created with the store by the first leader
    assert len(epoch) == 8 and a.is_leader and a.fence == f"a:{epoch}:1" and a.term == 1
    assert not b.try_acquire()
    assert not b.is_leader and b.fence is None and b.term is None
    info = read_leader(any_redis, keys)
    assert info["node_id"] == "a" and info["term"] == 1 and info["value"] == f"a:{epoch}:1"
    assert info["epoch"] == epoch
    assert 0 < info["ttl_ms_left"] <= 3000 and info["renewed_at"] > 0
    a.release()
    assert not a.is_leader and read_leader(any_redis, keys) is None
    assert b.try_acquire() and b.fence == f"b:{epoch}:2"  # the epoch stays with the store
    assert a.try_acquire() is False


def test_renew_extends_only_the_exact_value(any_redis, keys):
    a = make(any_redis, keys, "a")
    assert a.try_acquire()
    any_redis.pexpire(keys.lease(), 500)
    assert a.renew()
    assert any_redis.pttl(keys.lease()) > 2000
    # After a failover the counter can repeat: same node, other term must not count as ours.
    any_redis.set(keys.lease(), "a:7", px=3000)
    assert not a.renew()
    assert not a.is_leader and a.fence is None
    assert any_redis.get(keys.lease()) == b"a:7"


def test_release_never_deletes_a_successors_lease(any_redis, keys):
    a, b = make(any_redis, keys, "a"), make(any_redis, keys, "b")
    assert a.try_acquire()
    any_redis.delete(keys.lease())  # a's lease expired meanwhile
    assert b.try_acquire()
    a.release()
    assert read_leader(any_redis, keys)["node_id"] == "b"
    assert b.is_leader


def test_leader_steps_down_locally_before_the_lease_can_expire(any_redis, keys):
    a = make(any_redis, keys, "a", ttl_ms=400, renew_ms=100, margin_ms=100)
    assert a.try_acquire()
    time.sleep(0.35)  # no renew for longer than ttl - margin
    assert not a.is_leader and a.fence is None
    assert not a.renew()  # a term given up is never revived


def test_expired_leader_cannot_write_after_a_successor_took_over(any_redis, keys):
    a = make(any_redis, keys, "a", ttl_ms=300, renew_ms=100)
    b = make(any_redis, keys, "b", ttl_ms=300, renew_ms=100)
    assert a.try_acquire()
    stale = a.fence
    time.sleep(0.45)
    assert b.try_acquire() and b.term == 2
    log = EventLog(any_redis, keys)
    with pytest.raises(FencedWriteError):
        log.append("j1", EventType.DONE, "a", 5, fence=stale, record={"status": "done"})
    assert not any_redis.exists(keys.job("j1")) and log.read("j1") == []
    log.append("j1", EventType.LEADER_CHANGED, "b", 6, fence=b.fence, record={"status": "running"})
    assert any_redis.hget(keys.job("j1"), "status") == b"running"
    assert not a.renew()


def test_candidate_delay_falls_with_priority(any_redis, keys):
    nodes = [make(any_redis, keys, f"n{p}", priority=p) for p in (1, 5, 3)]
    for n in nodes:
        n.heartbeat()
    delays = {n.priority: n.candidate_delay_s() for n in nodes}
    assert delays[5] < delays[3] < delays[1]
    assert delays[5] < nodes[0].renew_ms / 1000


def test_highest_priority_live_coordinator_wins_a_vacancy(any_redis, keys):
    # Called lowest priority first each turn, so only the delay can make the highest one win.
    nodes = [make(any_redis, keys, f"n{p}", priority=p, ttl_ms=2000, renew_ms=400)
             for p in (1, 3, 9)]
    for n in nodes:
        n.heartbeat()
    deadline = time.monotonic() + 5
    while not any(n.is_leader for n in nodes) and time.monotonic() < deadline:
        for n in nodes:
            n.step()
        time.sleep(0.02)
    assert [n.priority for n in nodes if n.is_leader] == [9]


def test_a_leader_is_not_preempted_by_a_higher_priority_newcomer(any_redis, keys):
    # A long TTL: a CPU-starved test process must not lose the lease between two steps (what
    # is tested is that the newcomer waits, not how fast the leader renews).
    low = make(any_redis, keys, "low", priority=1, ttl_ms=20_000, renew_ms=150)
    assert low.step() or low.step()  # first step may only note the vacancy
    high = make(any_redis, keys, "high", priority=99, ttl_ms=20_000, renew_ms=150)
    for _ in range(8):
        assert low.step()
        assert not high.step()
        time.sleep(0.1)
    assert read_leader(any_redis, keys)["node_id"] == "low"
    low.release()
    deadline = time.monotonic() + 3
    while not high.step() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert high.is_leader and high.term == 2


def test_coordinators_register_with_role_and_priority(any_redis, keys):
    a, b = make(any_redis, keys, "a", priority=2), make(any_redis, keys, "b", priority=7)
    a.try_acquire()
    a.heartbeat()
    b.heartbeat()
    seen = read_coordinators(any_redis, keys, stale_s=3)
    assert seen["a"]["role"] == "leader" and seen["a"]["priority"] == 2
    assert seen["b"]["role"] == "standby" and seen["b"]["priority"] == 7
    assert time.time() - seen["b"]["seen_at"] < 5


def test_reading_the_registry_leaves_it_alone_and_live_coordinators_prune_the_dead(any_redis,
                                                                                  keys):
    gone = {"priority": 1, "role": "standby", "seen_at": time.time() - 3600}
    any_redis.hset(keys.coordinators(), "gone", json.dumps(gone))
    any_redis.hset(keys.coordinators(), "garbled", "{not json")
    assert read_coordinators(any_redis, keys, stale_s=3) == {}
    assert read_coordinators(any_redis, keys)["gone"]["priority"] == 1  # no stale_s: all
    assert any_redis.hlen(keys.coordinators()) == 2  # a read never deletes
    make(any_redis, keys, "live").heartbeat()
    assert set(read_coordinators(any_redis, keys)) == {"live"}
    assert any_redis.hlen(keys.coordinators()) == 1


def test_bad_arguments_are_rejected(any_redis, keys):
    with pytest.raises(ValueError):
        make(any_redis, keys, "a", ttl_ms=1000, renew_ms=600)
    with pytest.raises(ValueError):
        make(any_redis, keys, "a:1")
    for bad in ("nocolon", "host:7", "host::7", "host:ep:x", "a:b:c:7", ""):
        with pytest.raises(ValueError):
            parse_fence(bad)
    assert parse_fence("host-1234:ab12cd34:7") == ("host-1234", "ab12cd34", 7)


def test_the_leader_whose_lease_lapsed_does_not_delay_the_standbys(any_redis, keys):
    high = make(any_redis, keys, "high", priority=9)
    low = make(any_redis, keys, "low", priority=1)
    high.heartbeat()
    low.heartbeat()
    assert low.candidate_delay_s() == pytest.approx(1.0)  # high is live and ranks first
    assert high.try_acquire()
    any_redis.delete(keys.lease())  # high died: its heartbeat still looks fresh for a while
    assert low.candidate_delay_s() == 0.0


def test_a_leader_steps_down_when_the_term_goes_backwards_or_the_store_is_new(any_redis, keys,
                                                                              caplog):
    a = make(any_redis, keys, "a")
    assert a.try_acquire() and a.renew()
    any_redis.set(keys.term(), 0)  # a store rolled back below our term
    assert not a.renew() and a.fence is None
    assert "term counter went backwards" in caplog.text
    b = make(any_redis, keys, "b")
    any_redis.delete(keys.lease())
    assert b.try_acquire()
    old_epoch = any_redis.get(keys.epoch()).decode()
    for key in any_redis.keys(f"{keys.prefix}:*"):  # Redis restarted without its data ...
        any_redis.delete(key)
    c = make(any_redis, keys, "c")
    assert c.try_acquire() and c.term == 1  # ... the term restarts, under a new epoch
    assert old_epoch not in c.fence  # b's old fence can never match again
    assert not b.renew() and "the store's epoch is now" in caplog.text
