"""The stub engine (a benchmarking aid): off unless asked for, sleeps for its slice, hands back a
valid tour it was given, and a stubbed unit task reports exactly as a real one does."""

from __future__ import annotations

import time

import numpy as np
import pytest

import tasks.runtime
from tasks.unit_tasks import solve_unit
from tsp_celery.cluster.client import ClusterClient
from tsp_celery.cluster.events import EventLog, EventType
from tsp_celery.cluster.job import JobParams
from tsp_celery.cluster.lease import parse_fence
from tsp_celery.errors import TspCeleryError
from tsp_celery.plan import RoundPlan
from tsp_celery.problem import Problem
from tsp_celery.settings import Settings
from tsp_celery.solver.stub import STUB_ENV, sleep_unit, stub_engine, unit_runner
from tsp_celery.solver.units import UnitSpec, run_unit

pytestmark = pytest.mark.timeout(60)

FENCE = "c1:e1:1"


def _problem(n: int = 30) -> Problem:
    xy = np.random.default_rng(3).integers(0, 1000, size=(n, 2)).astype(float)
    return Problem(name=f"s{n}", edge_weight_type="EUC_2D", coords=xy)


def test_the_real_solver_runs_unless_the_stub_is_named():
    assert unit_runner({}) is run_unit
    assert unit_runner({STUB_ENV: ""}) is run_unit
    assert unit_runner({STUB_ENV: " Sleep "}) is sleep_unit


def test_an_unknown_stub_name_is_a_clear_error():
    with pytest.raises(TspCeleryError, match=f"{STUB_ENV}.*'fast'"):
        stub_engine({STUB_ENV: "fast"})


def test_a_whole_tour_unit_sleeps_its_slice_and_returns_a_valid_tour():
    problem = _problem()
    started = time.monotonic()
    result = sleep_unit(problem, UnitSpec("u0", "island", 5, 0.3))
    assert time.monotonic() - started >= 0.3
    problem.validate_tour(result.tour)
    assert result.length == problem.tour_length(result.tour)
    assert result.engine == "stub-sleep" and result.elapsed_s >= 0.3


def test_a_piece_unit_hands_back_its_piece_of_the_base_unchanged():
    problem = _problem()
    base = np.arange(problem.n)
    result = sleep_unit(problem, UnitSpec("u1", "segment", 1, 0.05, start=4, size=10), base)
    assert list(result.tour) == list(range(4, 14))
    assert result.length == result.base_length and not result.improved


def test_the_deadline_cuts_the_sleep_short():
    started = time.monotonic()
    sleep_unit(_problem(), UnitSpec("u2", "island", 1, 30.0), deadline=time.time() + 0.1)
    assert time.monotonic() - started < 5


def test_a_stubbed_unit_task_reports_like_a_real_one(redis_url, monkeypatch):
    monkeypatch.setenv("TSP_CELERY_REDIS_URL", redis_url)
    monkeypatch.setenv("TSP_CELERY_PREFIX", "stub")
    monkeypatch.setenv(STUB_ENV, "sleep")
    monkeypatch.setattr(tasks.runtime, "_current", None)
    client = ClusterClient(Settings.from_env())
    problem = _problem()
    client.redis.set(client.keys.epoch(), parse_fence(FENCE).epoch)
    job_id = client.submit(problem, JobParams(time_s=30))
    client.redis.set(client.keys.lease(), FENCE, px=60_000)
    assert client.store.admit(job_id, FENCE, "c1")[0] == "running"
    plan = RoundPlan(1, "island", (UnitSpec("r1-u0", "island", 0, 0.2),), 5.0)
    assert client.store.plan_round(job_id, 1, {"plan": plan.to_dict(), "fence": FENCE},
                                   FENCE)[0] == "ok"
    out = solve_unit.apply(kwargs={"job_id": job_id, "round_no": 1,
                                   "instance": problem.content_hash(),
                                   "unit": plan.units[0].to_dict(), "lamport": 3,
                                   "fence": FENCE}, task_id=f"{job_id}-r1-u0").get()
    assert out["ok"] and out["stored"]
    rec = client.store.unit_records(job_id, 1)["r1-u0"]
    tour = client.store.unit_tour(job_id, "r1-u0")
    problem.validate_tour(tour)
    assert rec["engine"] == "stub-sleep" and rec["length"] == problem.tour_length(tour)
    kinds = [e.type for e in EventLog(client.redis, client.keys).read(job_id)]
    assert EventType.UNIT_STARTED in kinds and EventType.UNIT_FINISHED in kinds
