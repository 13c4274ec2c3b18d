"""A unit whose tour ends its job finishes it on the worker (JobQueue.finish_by_unit), with a
real Coordinator as leader and the unit task run in this process against real Redis.

What a user relies on: the job ends done with that tour and one done event, nothing else is sent
for it; a leader killed afterwards leaves it done (the successor does not resume it); a unit
sent by a deposed leader cannot end the job, and its tour still counts through the new leader.
"""

from __future__ import annotations

import uuid

import numpy as np
import pytest

import tasks.runtime
from tasks.unit_tasks import solve_unit
from tsp_celery.cluster.coordinator import Coordinator
from tsp_celery.cluster.events import EventType
from tsp_celery.cluster.job import JobParams
from tsp_celery.cluster.workers import beat
from tsp_celery.plan import RoundPlan
from tsp_celery.problem import Problem
from tsp_celery.settings import Settings

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def settings(redis_url, monkeypatch) -> Settings:
    monkeypatch.setenv("TSP_CELERY_REDIS_URL", redis_url)
    monkeypatch.setenv("TSP_CELERY_PREFIX", f"uf{uuid.uuid4().hex[:8]}")
    monkeypatch.setattr(tasks.runtime, "_current", None)  # the worker side reads the same env
    return Settings.from_env()


def _leader(settings: Settings, name: str) -> Coordinator:
    coord = Coordinator(settings, name, 0)
    assert coord.lease.try_acquire()
    return coord


def _job(settings: Settings, target: float | None) -> tuple[Coordinator, Problem, str]:
    """A running job of 30 nodes whose round 1 (two island units) was planned and sent."""
    leader = Coordinator(settings, "old", 1)  # its units wait in the broker: run here instead
    beat(leader.redis, leader.keys, "w1", {"slots": 2}, ttl_s=60)
    problem = Problem.from_coords(np.random.default_rng(5).integers(0, 1000, (30, 2)), "EUC_2D")
    job_id = leader.store.submit(problem, JobParams(time_s=60, target=target))
    assert leader.lease.try_acquire()
    leader.tick()
    assert leader.store.record(job_id)["round"] == 1
    return leader, problem, job_id


def _run_unit(leader: Coordinator, problem: Problem, job_id: str, index: int, fence: str):
    plan = RoundPlan.from_dict(leader.store.round_plan(job_id, 1)["plan"])
    kwargs = {"job_id": job_id, "round_no": 1, "instance": problem.content_hash(),
              "unit": plan.units[index].to_dict(), "lamport": 1, "fence": fence}
    return solve_unit.apply(kwargs=kwargs, task_id=f"{job_id}-r1-u{index}").get()


def _kinds(leader: Coordinator, job_id: str) -> list[str]:
    return [e.type for e in leader.events.read(job_id)]


def _totals(leader: Coordinator) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in
            leader.redis.hgetall(leader.keys.event_totals()).items()}


def test_a_unit_that_meets_the_target_finishes_the_job_and_a_new_leader_leaves_it_done(settings):
    leader, problem, job_id = _job(settings, target=10**9)  # any tour meets it
    out = _run_unit(leader, problem, job_id, 0, leader.lease.fence)
    assert out["ok"] and out["stored"]
    status = leader.store.record(job_id)
    assert status["status"] == "done" and job_id not in leader.store.active_ids()
    tour = leader.store.best_tour(job_id)
    assert problem.tour_length(problem.validate_tour(tour)) == status["best_length"]
    assert leader.store.round_merged(job_id, 1)["closer"] == "worker"
    kinds = _kinds(leader, job_id)
    assert kinds[-3:] == [EventType.IMPROVED, EventType.ROUND_MERGED, EventType.DONE]

    leader.tick()  # the leader drops the job: no second round, no second final event
    assert leader.store.record(job_id)["round"] == 1 and not leader.drivers
    late = _run_unit(leader, problem, job_id, 1, leader.lease.fence)
    assert late["skipped"] == "job is done"

    leader.redis.delete(leader.keys.lease())  # the leader dies; a standby takes over
    successor = _leader(settings, "new")
    successor.recover()
    successor.tick()
    rec = successor.store.record(job_id)
    assert rec["status"] == "done" and rec["round"] == 1 and not successor.drivers
    assert _kinds(successor, job_id).count(EventType.DONE) == 1


def test_a_unit_sent_by_a_deposed_leader_leaves_the_job_to_the_new_one(settings):
    leader, problem, job_id = _job(settings, target=10**9)
    fence = leader.lease.fence
    leader.redis.delete(leader.keys.lease())
    successor = _leader(settings, "new")
    outs = [_run_unit(leader, problem, job_id, i, fence) for i in (0, 1)]
    assert all(out["ok"] and out["stored"] for out in outs)  # stored, but not allowed to finish
    assert leader.store.record(job_id)["status"] == "running"
    assert leader.store.round_merged(job_id, 1) is None

    successor.recover()  # closes the inherited round with the units' tours, then stops
    for _ in range(50):
        successor.tick()
        if successor.store.record(job_id)["status"] != "running":
            break
    status = successor.store.record(job_id)
    assert status["status"] == "done"
    assert status["best_length"] <= min(out["length"] for out in outs)
    assert successor.store.round_merged(job_id, 1)["closer"] == "recovery"
    assert _kinds(successor, job_id).count(EventType.DONE) == 1


def test_a_unit_without_a_target_to_meet_leaves_the_round_to_the_leader(settings):
    leader, problem, job_id = _job(settings, target=None)
    assert _run_unit(leader, problem, job_id, 0, leader.lease.fence)["stored"]
    assert leader.store.record(job_id)["status"] == "running"
    assert leader.store.round_merged(job_id, 1) is None
    assert EventType.DONE not in _kinds(leader, job_id)


@pytest.mark.parametrize("improves", [True, False])
def test_the_events_of_a_unit_that_ends_its_job_are_pinned(settings, caplog, improves):
    """Its improved (only when its tour is the new best), round_merged and done events: their
    data, the worker's consecutive stamps after its unit_finished event, one count each in the
    totals, the record's lamport_max, a wake-up for the leader and one log line each."""
    leader, problem, job_id = _job(settings, target=10**9)
    if not improves:  # a shorter best is in already (the store compares lengths only)
        assert leader.store.commit_best(job_id, np.arange(30), 1.0, 1, 0.1, False, "x") is True
    before = leader.store.record(job_id).get("best_length")
    totals = _totals(leader)
    leader.redis.delete(leader.keys.wake())
    with caplog.at_level("INFO", logger="tsp_celery.cluster.events"):
        out = _run_unit(leader, problem, job_id, 0, leader.lease.fence)
    rec = leader.store.record(job_id)
    best = rec["best_length"]
    assert rec["status"] == "done" and (best == out["length"]) is improves
    events = leader.events.read(job_id)
    finished = next(e for e in events if e.type is EventType.UNIT_FINISHED)
    tail = events[-3:] if improves else events[-2:]
    node, stamp = finished.node, finished.lamport
    assert [(e.type, e.node, e.lamport) for e in tail] == [
        *([(EventType.IMPROVED, node, stamp + 1)] if improves else []),
        (EventType.ROUND_MERGED, node, stamp + 2), (EventType.DONE, node, stamp + 3)]
    unit = finished.data["unit"]
    assert [e.data for e in tail] == [
        *([{"round": 1, "length": best}] if improves else []),
        {"round": 1, "closer": "worker", "received": [unit], "missing": [], "best_after": best,
         "improved": improves},
        {"reason": "target reached", "rounds": 1, "error": "", "best_length": best}]
    outcome = leader.store.round_merged(job_id, 1)
    assert set(outcome) == {"round", "kind", "closer", "received", "missing", "failed",
                            "candidate", "at", "merged_at", "error", "best_before",
                            "best_after", "improved", "lamport"}
    assert {k: outcome[k] for k in ("received", "best_before", "best_after", "improved",
                                    "lamport")} == {
        "received": [unit], "best_before": before, "best_after": best, "improved": improves,
        "lamport": stamp + 2}
    assert int(rec["lamport_max"]) == stamp + 3
    counted = _totals(leader)
    assert {k: counted.get(k, 0) - totals.get(k, 0) for k in ("improved", "round_merged",
                                                              "done")} == {
        "improved": int(improves), "round_merged": 1, "done": 1}
    assert leader.redis.llen(leader.keys.wake()) == 1
    logged = [r.event for r in caplog.records if getattr(r, "job", None) == job_id]
    assert logged == ["unit_started", "unit_finished", *(["improved"] if improves else []),
                      "round_merged", "done"]
