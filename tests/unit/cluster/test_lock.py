"""Fenced job lock: mutual exclusion, compare-and-set release/extend, deposed leaders kept out."""

from __future__ import annotations

import threading
import time

import pytest

from tsp_celery.cluster.lease import LeaderLease
from tsp_celery.cluster.lock import FencedLock, LockNotAcquiredError, job_lock
from tsp_celery.errors import FencedWriteError


def test_mutual_exclusion_and_value_carries_the_fence(any_redis, keys):
    lease = LeaderLease(any_redis, keys, "c1", 0, 3000, 1000)
    assert lease.try_acquire()
    mine = job_lock(any_redis, keys, "j", "c1", fence=lease.fence)
    other = job_lock(any_redis, keys, "j", "cli")
    assert mine.acquire()
    assert any_redis.get(keys.job_lock("j")).decode().startswith(f"{lease.fence}#")
    assert not other.acquire(timeout_s=0.1)
    assert mine.release()
    assert other.acquire()
    assert not mine.release()  # not ours any more: the holder's lock stays
    assert any_redis.get(keys.job_lock("j")).decode() == other.value


def test_expired_holder_cannot_extend_or_free_a_successors_lock(any_redis, keys):
    first = job_lock(any_redis, keys, "j", "a", ttl_ms=150)
    second = job_lock(any_redis, keys, "j", "b", ttl_ms=3000)
    assert first.acquire()
    assert first.extend()
    time.sleep(0.3)
    assert second.acquire()
    assert not first.extend()
    assert not first.release()
    assert any_redis.get(keys.job_lock("j")).decode() == second.value


def test_deposed_leader_cannot_take_the_lock(any_redis, keys):
    lease = LeaderLease(any_redis, keys, "c1", 0, 3000, 1000)
    assert lease.try_acquire()
    stale = lease.fence
    any_redis.delete(keys.lease())
    with pytest.raises(FencedWriteError):
        job_lock(any_redis, keys, "j", "c1", fence=stale).acquire()
    assert not any_redis.exists(keys.job_lock("j"))


def test_context_manager_serialises_critical_sections(any_redis, keys):
    any_redis.set("counter", 0)
    errors: list[Exception] = []

    def section(name: str) -> None:
        try:
            for _ in range(5):
                with job_lock(any_redis, keys, "j", name, wait_s=10):
                    value = int(any_redis.get("counter"))  # read-modify-write, unsafe unlocked
                    time.sleep(0.005)
                    any_redis.set("counter", value + 1)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=section, args=(f"t{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and int(any_redis.get("counter")) == 20
    assert not any_redis.exists(keys.job_lock("j"))


def test_waiting_too_long_raises_a_clear_error(any_redis, keys):
    holder = job_lock(any_redis, keys, "j", "a")
    assert holder.acquire()
    waiter = FencedLock(any_redis, keys, keys.job_lock("j"), "b", wait_s=0.1)
    with pytest.raises(LockNotAcquiredError, match="held by"), waiter:
        pass
