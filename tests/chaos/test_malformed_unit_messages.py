"""Malformed solve_unit messages sent to a real worker: each is rejected with a logged error,
a garbage job id creates no key, and the worker goes on to finish a real job."""

from __future__ import annotations

import pytest
from chaos_harness import wait_until

from tsp_celery.cluster.celery_config import SOLVE_TASK, make_app
from tsp_celery.cluster.events import EventType
from tsp_celery.settings import Settings

pytestmark = pytest.mark.chaos


@pytest.mark.timeout(150)
def test_malformed_unit_messages_are_rejected_and_the_worker_stays_up(cluster):
    worker = cluster.worker("w1", concurrency=1)
    cluster.coordinator("coord-a", priority=1)
    cluster.wait_for_workers(1)
    job, problem = cluster.submit("berlin52", time_s=6)
    rec = cluster.wait_round(job, 1)
    app = make_app(Settings.from_env(cluster.env))
    unit = {"unit_id": "r1-u9", "kind": "island", "seed": 1, "budget_s": 0.5}
    good = {"job_id": job, "round_no": 1, "instance": rec["instance"]}
    bad = {
        "infinite budget": {**good, "unit": {**unit, "budget_s": float("inf")}},
        "infinite seed": {**good, "unit": {**unit, "seed": float("inf")}},
        "round as text": {**good, "round_no": "1", "unit": unit},
        "unit as a list": {**good, "unit": [1, 2, 3]},
        "garbage job id": {**good, "job_id": "../../x y", "unit": unit},
        "job id as object": {**good, "job_id": {"a": 1}, "unit": unit},
    }
    results = {name: app.send_task(SOLVE_TASK, kwargs=kwargs) for name, kwargs in bad.items()}
    for name, res in results.items():
        value = res.get(timeout=60, propagate=False)
        assert res.state == "SUCCESS" and value["ok"] is False, (name, res.state, value)
    wait_until(lambda: worker.log().count("rejected solve_unit message") >= len(bad), 30,
               "one logged error per malformed message")
    rejected = sorted(e.data["error"] for e in cluster.events.read(job)
                      if e.type is EventType.UNIT_FAILED and e.data["error"].startswith("bad "))
    assert len(rejected) == 4, rejected  # the four with a valid job id, in the job's log
    assert any("budget_s inf is not finite" in r for r in rejected), rejected
    assert cluster.redis.keys("*x y*") == [] and cluster.redis.keys("*{'a'*") == []
    cluster.check_done(job, problem, timeout_s=60)
    assert worker.alive()
