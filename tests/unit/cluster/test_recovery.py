"""Recovery after a takeover, with real Redis and real Coordinator objects (no Celery workers:
the dispatcher is a recorder, units are stored as workers store them)."""

from __future__ import annotations

import json
import time
import uuid

import numpy as np
import pytest

from tsp_celery.cluster.celery_config import SOLVE_QUEUE, celery_config
from tsp_celery.cluster.coordinator import Coordinator
from tsp_celery.cluster.dispatch import unit_task_id
from tsp_celery.cluster.events import EventType
from tsp_celery.cluster.job import JobParams
from tsp_celery.cluster.workers import beat
from tsp_celery.errors import FencedWriteError
from tsp_celery.problem import Problem
from tsp_celery.settings import Settings
from tsp_celery.solver.units import UnitResult


class RecordingDispatcher:
    """Stands in for Celery: remembers which rounds were sent."""

    def __init__(self) -> None:
        self.rounds: list[tuple[str, int]] = []

    def send_round(self, job_id, instance, plan, fence, lamport, units_deadline_at=None,
                   merge_task=True):
        self.rounds.append((job_id, plan.round_no))
        return "group"

    def send_initial(self, *args, **kwargs):
        return "initial"

    def send_bound(self, *args, **kwargs):
        return "bound"


@pytest.fixture
def world(redis_url):
    settings = Settings(redis_url=redis_url, prefix=f"t{uuid.uuid4().hex[:8]}",
                        lease_ttl_ms=3000, lease_renew_ms=1000)
    old = Coordinator(settings, "old", 1, dispatcher=RecordingDispatcher())
    beat(old.redis, old.keys, "w1", {"slots": 2}, ttl_s=60)  # a live worker with two slots
    rng = np.random.default_rng(3)
    problem = Problem.from_coords(rng.integers(0, 1000, (30, 2)), "EUC_2D")
    job_id = old.store.submit(problem, JobParams(time_s=120))
    assert old.lease.try_acquire()
    old.tick()  # admits the job and plans round 1 (two island units)
    assert old.dispatcher.rounds == [(job_id, 1)]
    return settings, old, problem, job_id


def take_over(settings, old) -> Coordinator:
    """The old leader's lease vanishes (it died); a standby acquires."""
    old.redis.delete(old.keys.lease())
    new = Coordinator(settings, "new", 0, dispatcher=RecordingDispatcher())
    assert new.lease.try_acquire() and new.lease.term == 2
    return new


def store_unit(coord, problem, job_id, unit_id, seed) -> float:
    tour = np.random.default_rng(seed).permutation(problem.n)
    length = problem.tour_length(tour)
    result = UnitResult(unit_id, "island", tour, length, None, False, 1.0, "test")
    coord.store.record_unit(job_id, 1, unit_id, {**result.summary(), "ok": True, "lamport": 3},
                            tour)
    return length


def test_a_round_that_never_left_is_closed_and_replanned(world):
    settings, old, _problem, job_id = world
    before = old.events.max_lamport(job_id)
    new = take_over(settings, old)
    (report,) = new.recover()
    assert report.action == "close" and report.round == 1 and report.missing == 2
    assert "no unit" in report.reason and report.lost_unit_s > 0
    merged = new.store.round_merged(job_id, 1)
    assert merged["closer"] == "recovery" and sorted(merged["missing"]) == ["r1-u0", "r1-u1"]
    log = new.events.read(job_id)
    changed = [e for e in log if e.type is EventType.LEADER_CHANGED]
    assert len(changed) == 1 and changed[0].node == "new" and changed[0].lamport > before
    assert changed[0].data["fence"] == new.lease.fence == f"new:{new.store.epoch()}:2"
    new.tick()  # re-planned by the new leader; round 1 is not sent again
    assert new.dispatcher.rounds == [(job_id, 2)]
    assert not new.redis.exists(new.keys.job_lock(job_id))


def test_the_deposed_leader_cannot_plan_after_the_takeover(world):
    settings, old, _problem, job_id = world
    new = take_over(settings, old)
    new.recover()
    with pytest.raises(FencedWriteError):
        old.tick()  # sees round 1 merged, tries to plan round 2 with its stale fence
    old._leader_turn()  # the coordinator's own handling: step down, drop the jobs
    assert not old.lease.is_leader and old.drivers == {}
    assert 2 not in new.store.rounds(job_id)
    assert old.dispatcher.rounds == [(job_id, 1)]


def test_a_round_whose_units_are_arriving_is_awaited(world):
    settings, old, problem, job_id = world
    store_unit(old, problem, job_id, "r1-u0", seed=1)  # one arrived, the other still running
    new = take_over(settings, old)
    (report,) = new.recover()
    assert (report.action, report.arrived, report.missing) == ("await", 1, 1)
    assert new.store.round_merged(job_id, 1) is None
    assert new.drivers[job_id].round.plan.round_no == 1
    new.tick()
    assert new.dispatcher.rounds == []  # nothing dispatched twice


@pytest.mark.parametrize("where", ["delivered", "queued"])
def test_a_round_seen_by_the_broker_or_a_worker_is_awaited(world, where):
    settings, old, _problem, job_id = world
    task_id = unit_task_id(job_id, "r1-u1")
    if where == "delivered":
        old.store.start_attempt(task_id)
    else:
        prefix = celery_config(settings)["broker_transport_options"]["global_keyprefix"]
        old.redis.lpush(prefix + SOLVE_QUEUE, json.dumps({"headers": {"id": task_id}}))
    new = take_over(settings, old)
    (report,) = new.recover()
    assert report.action == "await"


def test_a_complete_round_whose_merge_was_lost_is_merged_now(world):
    settings, old, problem, job_id = world
    lengths = [store_unit(old, problem, job_id, u, seed=s) for s, u in enumerate(["r1-u0",
                                                                                   "r1-u1"])]
    new = take_over(settings, old)
    (report,) = new.recover()
    assert report.action == "close" and report.missing == 0 and report.lost_unit_s == 0
    rec = new.store.record(job_id)
    # The merge may recombine the two tours into one shorter than either; never longer.
    assert rec["best_length"] <= min(lengths) + 1e-9
    best = problem.validate_tour(new.store.best_tour(job_id))
    assert problem.tour_length(best) == pytest.approx(rec["best_length"])


def test_a_round_past_its_deadline_is_closed_with_what_arrived(world):
    settings, old, problem, job_id = world
    length = store_unit(old, problem, job_id, "r1-u1", seed=5)
    key = old.keys.job_rounds(job_id)
    entry = json.loads(old.redis.hget(key, "1"))
    old.redis.hset(key, "1", json.dumps({**entry, "deadline_at": time.time() - 1}))
    new = take_over(settings, old)
    (report,) = new.recover()
    assert (report.action, report.reason, report.arrived) == ("close", "deadline passed", 1)
    assert new.store.record(job_id)["best_length"] == pytest.approx(length)
    assert new.store.round_merged(job_id, 1)["missing"] == ["r1-u0"]


def test_queued_jobs_are_left_to_admission_and_standbys_do_nothing(world):
    settings, old, problem, _job_id = world
    queued = old.store.submit(problem, JobParams(time_s=30))
    new = take_over(settings, old)
    standby = Coordinator(settings, "standby", 0, dispatcher=RecordingDispatcher())
    assert standby.recover() == []
    reports = new.recover()
    assert queued not in {r.job_id for r in reports}
    assert new.store.record(queued)["status"] == "queued"
    new.tick()
    assert new.store.record(queued)["status"] == "running"


def test_a_job_with_a_corrupt_instance_fails_without_taking_the_leader_down(world):
    settings, old, problem, job_id = world
    old.redis.set(old.keys.instance(problem.content_hash()), b"garbage")
    key = old.keys.job_rounds(job_id)
    entry = json.loads(old.redis.hget(key, "1"))
    old.redis.hset(key, "1", json.dumps({**entry, "deadline_at": time.time() - 1}))
    new = take_over(settings, old)
    (report,) = new.recover()  # does not raise
    assert report.action == "skipped" and "layout" in report.reason
    new.tick()  # the driver closes the round, cannot read the instance: the job fails
    rec = new.store.record(job_id)
    assert rec["status"] == "failed" and "layout" in rec["error"]
    assert any(e.type is EventType.FAILED for e in new.events.read(job_id))
    assert new.lease.is_leader and job_id not in new.drivers
