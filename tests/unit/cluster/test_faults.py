"""Faults the control plane must survive: busy or wedged work loops, every class of Redis
refusal, poison jobs and refused submissions. Real Coordinator objects on real Redis; the Celery
side is the recorder of test_coordinator."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid

import numpy as np
import pytest
import redis
import redis.exceptions as redis_exc

import tsp_celery.cluster.coordinator as coordinator_module
from tests.unit.cluster.test_coordinator import Recorder, problem, turn
from tsp_celery.cluster.client import ClusterClient
from tsp_celery.cluster.coordinator import POISON_LIMIT, Coordinator
from tsp_celery.cluster.events import EventType
from tsp_celery.cluster.lamport import LamportClock
from tsp_celery.cluster.lease import read_leader
from tsp_celery.cluster.redis_health import classify
from tsp_celery.cluster.workers import beat
from tsp_celery.errors import EXIT_CLUSTER_UNREACHABLE, StoreRefusedError
from tsp_celery.settings import Settings

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def settings(redis_url) -> Settings:
    return Settings(redis_url=redis_url, prefix=f"t{uuid.uuid4().hex[:8]}", lease_ttl_ms=600,
                    lease_renew_ms=150)


def running(coord: Coordinator) -> threading.Thread:
    thread = threading.Thread(target=coord.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not coord._leading:
        assert time.monotonic() < deadline, "the coordinator never led"
        time.sleep(0.02)
    return thread


def test_the_lease_is_renewed_while_the_work_loop_is_busy(settings, monkeypatch):
    coord = Coordinator(settings, "c1", dispatcher=Recorder())
    slow = threading.Event()
    real_tick = coord.tick

    def tick():  # one turn takes five lease TTLs (a long recovery or merge)
        if not slow.is_set():
            slow.set()
            time.sleep(5 * settings.lease_ttl_ms / 1000)
        real_tick()

    monkeypatch.setattr(coord, "tick", tick)
    thread = running(coord)
    try:
        assert slow.wait(5)
        time.sleep(6 * settings.lease_ttl_ms / 1000)
        leader = read_leader(coord.redis, coord.keys)
        assert leader["term"] == 1 and coord.lease.fence == leader["value"]
    finally:
        coord.stop()
        thread.join(10)


def test_a_wedged_work_loop_loses_the_lease(settings, monkeypatch):
    monkeypatch.setattr(coordinator_module, "LOOP_STALL_S", 0.5)
    coord = Coordinator(settings, "c1", dispatcher=Recorder())
    wedged = threading.Event()
    release = threading.Event()

    def tick():
        wedged.set()
        release.wait(10)

    monkeypatch.setattr(coord, "tick", tick)
    thread = running(coord)
    try:
        assert wedged.wait(5)
        deadline = time.monotonic() + 10
        while read_leader(coord.redis, coord.keys) is not None:
            assert time.monotonic() < deadline, "a wedged loop kept its lease"
            time.sleep(0.05)
        assert coord.lease.fence is None
    finally:
        release.set()
        coord.stop()
        thread.join(10)


REFUSALS = {
    "connection": redis.ConnectionError("Connection refused"),
    "timeout": redis.TimeoutError("Timeout reading from socket"),
    "oom": redis_exc.OutOfMemoryError("command not allowed when used memory > 'maxmemory'"),
    "readonly": redis_exc.ReadOnlyError("You can't write against a read only replica."),
    "misconf": redis.ResponseError("MISCONF Redis is configured to save RDB snapshots, but..."),
    "noscript": redis_exc.NoScriptError("No matching script."),
    "busy": redis.ResponseError("BUSY Redis is busy running a script."),
}


@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_every_redis_refusal_is_backed_off_with_one_line_per_state_change(settings, name,
                                                                         monkeypatch, caplog):
    coord = Coordinator(settings, "c1", dispatcher=Recorder())
    assert coord.lease.try_acquire()
    coord._follow_lease()
    failures = iter([REFUSALS[name]] * 5)

    def tick():
        exc = next(failures, None)
        if exc is not None:
            raise exc

    monkeypatch.setattr(coord, "tick", tick)
    caplog.set_level(logging.WARNING)
    pauses = [coord._leader_turn() for _ in range(6)]
    assert all(p > 0 for p in pauses[:5]) and pauses[5] == 0  # backed off, then resumed
    assert pauses[4] > pauses[0]  # growing back-off
    lines = [r.getMessage() for r in caplog.records if "Redis" in r.getMessage()]
    assert len(lines) == 2, lines  # the refusal once, "fine again" once
    assert classify(REFUSALS[name]) in lines[0] and "fine again" in lines[1]
    assert coord._leading  # still up and leading


def leading(settings, **workers: int) -> tuple[ClusterClient, Coordinator]:
    """A client, and a coordinator leading with these live workers (id -> slots)."""
    client = ClusterClient(settings)
    for worker_id, slots in (workers or {"w1": 2}).items():
        beat(client.redis, client.keys, worker_id, {"slots": slots}, ttl_s=30)
    coord = Coordinator(settings, "c1", dispatcher=Recorder(), redis=client.redis)
    assert coord.lease.try_acquire()
    coord._follow_lease()
    return client, coord


def test_a_poison_job_fails_alone_with_its_reason(settings, monkeypatch):
    client, coord = leading(settings)
    good = client.submit(problem(30, 1), {"time_s": 30})
    poison = client.submit(problem(31, 2), {"time_s": 30})
    import tsp_celery.plan.round_loop as round_loop
    real_plan = round_loop.plan_round

    def plan_round(inp):
        if inp.n == 31:
            raise ZeroDivisionError("the planner met a job it cannot plan")
        return real_plan(inp)

    monkeypatch.setattr(round_loop, "plan_round", plan_round)
    for _ in range(POISON_LIMIT + 2):
        coord.tick()
    st = client.status(poison)
    assert st["status"] == "failed"
    assert "ZeroDivisionError: the planner met a job it cannot plan" in st["error"]
    assert f"raised {POISON_LIMIT} times" in st["error"]
    failed = [e for e in client.events.read(poison) if e.type is EventType.FAILED]
    assert len(failed) == 1 and "ZeroDivisionError" in failed[0].data["error"]
    assert client.status(good)["status"] == "running" and good in coord.drivers
    assert [r[0] for r in coord.dispatcher.rounds] == [good]


def test_a_job_record_that_cannot_be_read_as_params_fails_alone(settings):
    """As a client that skipped validation would write it: stall_rounds 0."""
    client, coord = leading(settings)
    poison = client.submit(problem(30, 1), {"time_s": 30})
    client.redis.hset(client.keys.job(poison), "params",
                      json.dumps({"time_s": 30, "stall_rounds": 0}))
    good = client.submit(problem(30, 2), {"time_s": 30})
    deadline = time.monotonic() + 20
    while client.status(poison)["status"] != "failed":
        assert time.monotonic() < deadline, client.status(poison)
        coord._synced = 0.0  # the periodic sync retries the job's resumption at once
        coord.tick()
    shown = client.status(poison)
    assert "stall_rounds" in shown["error"]
    assert shown["time_s"] == 30  # the valid stored fields are shown, not the defaults
    assert client.status(good)["status"] == "running"


class RefusingScript:
    def __init__(self, exc):
        self.exc = exc

    def __call__(self, *args, **kwargs):
        raise self.exc


@pytest.mark.parametrize("step", ["submit", "event"])
def test_a_submit_the_store_refuses_is_exit_3_and_leaves_nothing(settings, step):
    client = ClusterClient(settings)
    oom = redis_exc.OutOfMemoryError("command not allowed when used memory > 'maxmemory'")
    if step == "submit":
        client.store._scripts["SUBMIT"] = RefusingScript(oom)
    else:
        client.events._append = RefusingScript(oom)
    with pytest.raises(StoreRefusedError, match=r"out of memory.*not queued") as info:
        client.submit(problem(20), {"time_s": 5})
    assert info.value.exit_code == EXIT_CLUSTER_UNREACHABLE
    assert client.redis.zcard(client.keys.jobs()) == 0
    assert client.redis.zcard(client.keys.jobs_queued()) == 0
    assert not client.redis.keys(f"{settings.prefix}:job:*")


def test_a_lost_workers_unit_closes_its_round_in_seconds_not_at_the_visibility_timeout(
        settings):
    client, coord = leading(settings, w1=1, w2=1)
    p = problem(40, 3)
    job_id = client.submit(p, {"time_s": 120})
    turn(coord)
    plan = coord.dispatcher.rounds[0][1]
    assert [u.unit_id for u in plan.units] == ["r1-u0", "r1-u1"]
    beat(client.redis, client.keys, "w1", {"slots": 1, "units": [
        {"job_id": job_id, "unit_id": "r1-u0"}]}, ttl_s=30)
    coord.workers.refresh()
    turn(coord)  # w1 is seen running r1-u0
    tour = np.arange(p.n)
    summary = {"unit_id": "r1-u1", "kind": "island", "length": p.tour_length(tour),
               "base_length": None, "proven_optimal": False, "elapsed_s": 0.1,
               "engine": "test", "ok": True, "lamport": 1}
    client.store.record_unit(job_id, 1, "r1-u1", summary, tour)  # w2's unit reports
    turn(coord)
    assert client.store.round_merged(job_id, 1) is None  # r1-u0 still runs on a live worker
    client.redis.delete(client.keys.worker("w1"))  # w1's heartbeat stopped: its key expired
    coord.workers.refresh()
    turn(coord)
    merged = client.store.round_merged(job_id, 1)
    assert merged["closer"] == "lost worker" and merged["missing"] == ["r1-u0"]
    assert merged["received"] == ["r1-u1"]
    assert [r[1].round_no for r in coord.dispatcher.rounds] == [1, 2]  # re-planned, one slot
    assert len(coord.dispatcher.rounds[1][1].units) == 1


def test_a_unit_started_after_its_workers_last_heartbeat_is_lost_with_it(settings):
    """The heartbeat lists the units running when it beat; a unit started since is known from
    its start event, and its round still closes in seconds when the worker goes."""
    client, coord = leading(settings, w1=1, w2=1)
    p = problem(40, 3)
    job_id = client.submit(p, {"time_s": 120})
    turn(coord)
    beat(client.redis, client.keys, "w1", {"slots": 1, "units": []}, ttl_s=30)
    coord.workers.refresh()
    turn(coord)  # w1 is seen, running nothing yet
    clock = LamportClock("worker:w1")
    client.events.emit(job_id, EventType.UNIT_STARTED, clock,
                       {"round": 1, "unit": "r1-u0", "worker": "w1", "attempt": 1})
    client.events.emit(job_id, EventType.UNIT_STARTED, clock,  # an older round's start
                       {"round": 0, "unit": "r0-u0", "worker": "w1", "attempt": 1})
    tour = np.arange(p.n)
    summary = {"unit_id": "r1-u1", "kind": "island", "length": p.tour_length(tour),
               "base_length": None, "proven_optimal": False, "elapsed_s": 0.1,
               "engine": "test", "ok": True, "lamport": 1}
    client.store.record_unit(job_id, 1, "r1-u1", summary, tour)
    client.redis.delete(client.keys.worker("w1"))  # w1 died before its next heartbeat
    coord.workers.refresh()
    turn(coord)
    assert coord.workers.lost_units_of(job_id) == {"r1-u0"}
    merged = client.store.round_merged(job_id, 1)
    assert merged["closer"] == "lost worker" and merged["missing"] == ["r1-u0"]


def test_a_deposed_leader_sends_no_first_tour_task(redis_url):
    """The first dispatch of a large job has no fenced write before it: the lease is read back."""
    settings = Settings(redis_url=redis_url, prefix=f"t{uuid.uuid4().hex[:8]}",
                        lease_ttl_ms=60_000, lease_renew_ms=1000, matrix_budget_mb=1)
    client, coord = leading(settings)
    job_id = client.submit(problem(800), {"time_s": 30})
    coord._admit(coord.lease.fence)  # admitted, no step yet
    assert job_id in coord.drivers
    client.redis.set(client.keys.lease(), "c2:e1:9", px=60_000)  # c1 was replaced meanwhile
    coord._leader_turn()
    assert coord.dispatcher.initial == [] and not coord._leading
