"""The task bodies, run in this process against the real Redis (no worker, no chord).

What they promise: a unit stores its result once and says so; a union unit merges the job's
elite pool from Redis; a unit that kept killing its worker
is given up after three deliveries; a unit of a closed round or a cancelled job skips itself; the
merge reads the unit records and closes the round once.
"""

from __future__ import annotations

import numpy as np
import pytest

import tasks.runtime
from tasks.round_callback import round_callback
from tasks.unit_tasks import MAX_DELIVERIES, solve_unit
from tsp_celery.cluster.client import ClusterClient
from tsp_celery.cluster.events import EventLog, EventType
from tsp_celery.cluster.job import JobParams
from tsp_celery.cluster.lease import parse_fence
from tsp_celery.plan import RoundPlan
from tsp_celery.problem import Problem
from tsp_celery.settings import Settings
from tsp_celery.solver.units import UnitSpec

pytestmark = pytest.mark.timeout(60)

FENCE = "c1:e1:1"


@pytest.fixture
def client(redis_url, monkeypatch) -> ClusterClient:
    monkeypatch.setenv("TSP_CELERY_REDIS_URL", redis_url)
    monkeypatch.setenv("TSP_CELERY_PREFIX", "tasks")
    monkeypatch.setattr(tasks.runtime, "_current", None)
    return ClusterClient(Settings.from_env())


def _running_job(client: ClusterClient, units: int = 1) -> tuple[str, Problem, RoundPlan]:
    xy = np.random.default_rng(4).integers(0, 500, size=(25, 2)).astype(float)
    problem = Problem(name="t25", edge_weight_type="EUC_2D", coords=xy)
    client.redis.set(client.keys.epoch(), parse_fence(FENCE).epoch)
    job_id = client.submit(problem, JobParams(time_s=30))
    client.redis.set(client.keys.lease(), FENCE, px=60_000)
    assert client.store.admit(job_id, FENCE, "c1")[0] == "running"
    plan = RoundPlan(1, "island", tuple(UnitSpec(f"r1-u{i}", "island", i, 0.3)
                                        for i in range(units)), 5.0)
    record = {"plan": plan.to_dict(), "fence": FENCE}
    assert client.store.plan_round(job_id, 1, record, FENCE)[0] == "ok"
    return job_id, problem, plan


def _unit(job_id, problem, plan, i=0, task_id=None):
    kwargs = {"job_id": job_id, "round_no": 1, "instance": problem.content_hash(),
              "unit": plan.units[i].to_dict(), "lamport": 7, "fence": FENCE}
    return solve_unit.apply(kwargs=kwargs, task_id=task_id or f"{job_id}-r1-u{i}").get()


def test_a_unit_stores_its_tour_once_and_reports_it(client):
    job_id, problem, plan = _running_job(client)
    out = _unit(job_id, problem, plan)
    assert out["ok"] and out["stored"] and out["unit_id"] == "r1-u0"
    rec = client.store.unit_records(job_id, 1)["r1-u0"]
    tour = client.store.unit_tour(job_id, "r1-u0")
    problem.validate_tour(tour)
    assert rec["length"] == problem.tour_length(tour) == out["length"]
    assert rec["lamport"] > 7  # the stamp moved past the message's
    again = _unit(job_id, problem, plan, task_id="redelivered")
    assert again["skipped"] == "already reported"  # a redelivery does not run again
    kinds = [e.type for e in EventLog(client.redis, client.keys).read(job_id)]
    assert kinds.count(EventType.UNIT_FINISHED) == 1 and EventType.UNIT_STARTED in kinds


def test_a_union_unit_merges_the_elite_pool_it_reads_from_redis(client):
    job_id, problem, _ = _running_job(client)
    rng = np.random.default_rng(2)
    pool = [rng.permutation(problem.n) for _ in range(3)]
    client.store.offer_elite(job_id, [(problem.tour_length(t), t) for t in pool], FENCE)
    plan = RoundPlan(1, "island", (UnitSpec("r1-u0", "union", 5, 0.5),), 5.0)
    out = _unit(job_id, problem, plan)
    assert out["ok"] and out["stored"]
    rec = client.store.unit_records(job_id, 1)["r1-u0"]
    tour = problem.validate_tour(client.store.unit_tour(job_id, "r1-u0"))
    assert rec["kind"] == "union" and rec["length"] == problem.tour_length(tour)
    assert rec["length"] < min(problem.tour_length(t) for t in pool)


def test_a_union_unit_without_a_pool_is_a_failed_unit(client):
    job_id, problem, _ = _running_job(client)
    plan = RoundPlan(1, "island", (UnitSpec("r1-u0", "union", 5, 0.5),), 5.0)
    out = _unit(job_id, problem, plan)
    assert not out["ok"] and "needs a pool" in out["error"]
    assert client.store.unit_records(job_id, 1)["r1-u0"]["ok"] is False


def test_a_unit_delivered_too_often_is_given_up_and_recorded_failed(client):
    job_id, problem, plan = _running_job(client)
    task_id = f"{job_id}-r1-u0"
    for _ in range(MAX_DELIVERIES):
        client.store.start_attempt(task_id)  # three runs that each killed their worker
    out = _unit(job_id, problem, plan, task_id=task_id)
    assert not out["ok"] and "gave up after 3 runs that never finished" in out["error"]
    rec = client.store.unit_records(job_id, 1)["r1-u0"]
    assert rec["ok"] is False and rec["attempt"] == MAX_DELIVERIES + 1
    kinds = [e.type for e in EventLog(client.redis, client.keys).read(job_id)]
    assert EventType.UNIT_FAILED in kinds and EventType.UNIT_STARTED not in kinds


def test_redeliveries_of_units_that_finished_do_not_count_towards_the_limit(client):
    """A worker that restarts before its ack gets the message again: harmless, not a failure."""
    job_id, problem, plan = _running_job(client, units=2)
    task_id = f"{job_id}-r1-u1"
    for _ in range(MAX_DELIVERIES + 2):  # runs that returned, then were redelivered
        client.store.start_attempt(task_id)
        client.store.end_attempt(task_id)
    out = _unit(job_id, problem, plan, 1, task_id=task_id)
    assert out["ok"], out
    again = _unit(job_id, problem, plan, 1, task_id=task_id)  # redelivered after its result
    assert again["skipped"] == "already reported"


@pytest.mark.parametrize("why", ["closed", "cancelled"])
def test_a_stale_unit_skips_itself(client, why):
    job_id, problem, plan = _running_job(client)
    if why == "closed":
        client.store.close_round(job_id, 1, {"round": 1}, False, FENCE)
    else:
        client.cancel(job_id)
    out = _unit(job_id, problem, plan)
    assert "skipped" in out and not out["ok"]
    assert client.store.unit_records(job_id, 1) == {}


def test_the_merge_closes_the_round_from_the_unit_records(client):
    job_id, problem, plan = _running_job(client, units=2)
    _unit(job_id, problem, plan, 0)  # unit 1 never reports
    kwargs = {"job_id": job_id, "round_no": 1, "instance": problem.content_hash(),
              "fence": FENCE, "lamport": 9}
    out = round_callback.apply(args=[[{"dup": 1}, {"dup": 1}, {"dup": 1}]], kwargs=kwargs).get()
    assert out["merged"] and out["missing"] == ["r1-u1"] and out["chord_parts"] == 3
    assert client.status(job_id)["best_length"] == client.store.unit_records(
        job_id, 1)["r1-u0"]["length"]
    again = round_callback.apply(args=[[]], kwargs=kwargs).get()
    assert not again["merged"] and again["reason"] == "already closed"
    unknown = round_callback.apply(args=[[]], kwargs={**kwargs, "round_no": 5}).get()
    assert unknown == {"job_id": job_id, "round": 5, "merged": False, "reason": "no such round"}
    # A round planned by a leader that has since been replaced: its merge may not close it.
    record = {"plan": {**plan.to_dict(), "round_no": 2}, "fence": FENCE}
    client.store.plan_round(job_id, 2, record, FENCE)
    client.redis.set(client.keys.lease(), "c2:e1:2")
    fenced = round_callback.apply(args=[[]], kwargs={**kwargs, "round_no": 2}).get()
    assert fenced["reason"] == "fenced" and client.store.round_merged(job_id, 2) is None
    # The fence comes from the stored plan: a message naming the current lease cannot close it.
    forged = round_callback.apply(args=[[]],
                               kwargs={**kwargs, "round_no": 2, "fence": "c2:e1:2"}).get()
    assert forged["reason"] == "fenced" and client.store.round_merged(job_id, 2) is None
