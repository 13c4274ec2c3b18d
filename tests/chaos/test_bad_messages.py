"""Bad messages: tasks with missing or corrupt payloads, a foreign serializer, a corrupt stored
instance. Each fails cleanly (an event, a clear error); no job hangs."""

from __future__ import annotations

import pytest
from chaos_harness import DATA, causal_violations, figure, wait_until

from tsp_celery.cluster.celery_config import MERGE_TASK, SOLVE_TASK, make_app
from tsp_celery.cluster.events import EventType
from tsp_celery.problem import load_problem
from tsp_celery.settings import Settings

pytestmark = pytest.mark.chaos


@pytest.mark.timeout(150)
def test_bad_messages_fail_cleanly_and_jobs_never_hang(cluster, request):
    worker = cluster.worker("w1", concurrency=2)
    cluster.coordinator("coord-a", priority=1)
    cluster.wait_for_workers(1)
    job, problem = cluster.submit("pcb442", time_s=10)
    rec = cluster.wait_round(job, 1)
    app = make_app(Settings.from_env(cluster.env))
    good_unit = {"unit_id": "r1-u9", "kind": "island", "seed": 1, "budget_s": 0.5}
    common = {"job_id": job, "round_no": 1, "instance": rec["instance"]}
    bad = {
        "missing unit": app.send_task(SOLVE_TASK, kwargs=common),
        "corrupt unit": app.send_task(SOLVE_TASK, kwargs={**common, "unit": {"kind": 7}}),
        "unknown instance": app.send_task(SOLVE_TASK, kwargs={**common, "instance": "f00d",
                                                              "unit": good_unit}),
        "merge of no round": app.send_task(MERGE_TASK, kwargs={**common, "round_no": 99,
                                                                "fence": "x:1"}),
        "not json": app.send_task(SOLVE_TASK, kwargs={**common, "unit": good_unit},
                                  serializer="pickle"),
        # Malformed fields: each rejected by the decoder with a logged error.
        "infinite budget": app.send_task(SOLVE_TASK, kwargs={
            **common, "unit": {**good_unit, "budget_s": float("inf")}}),
        "infinite seed": app.send_task(SOLVE_TASK, kwargs={
            **common, "unit": {**good_unit, "seed": float("inf")}}),
        "round as text": app.send_task(SOLVE_TASK, kwargs={**common, "round_no": "1",
                                                            "unit": good_unit}),
        "garbage job id": app.send_task(SOLVE_TASK, kwargs={**common, "job_id": "../x y",
                                                             "unit": good_unit}),
        "job id as object": app.send_task(SOLVE_TASK, kwargs={**common, "job_id": {"a": 1},
                                                               "unit": good_unit}),
    }
    # Never hangs: every JSON task comes back, as a failure or as a clean summary.
    outcomes = {}
    for name, res in bad.items():
        if name == "not json":
            continue
        value = res.get(timeout=60, propagate=False)
        outcomes[name] = res.state
        assert res.state in ("SUCCESS", "FAILURE"), (name, res.state, value)
    wait_until(lambda: "ContentDisallowed" in worker.log() or "Refusing to deserial"
               in worker.log(), 30, "the worker to refuse the pickled message")
    failed = [e for e in cluster.events.read(job) if e.type is EventType.UNIT_FAILED]
    errors = sorted(e.data.get("error", "") for e in failed)
    assert sum(err.startswith("bad unit payload") for err in errors) == 4, errors
    assert sum(err.startswith("bad round number") for err in errors) == 1, errors
    assert worker.log().count("rejected solve_unit message") >= 7, "one logged error each"
    assert cluster.redis.keys("*x y*") == [] and cluster.redis.keys("*{'a'*") == [], \
        "a garbage job id creates no key"
    # ("unknown instance" is either skipped as stale, its round being closed, or fails with
    # an event; both are clean.)

    cluster.check_done(job, problem, timeout_s=60)  # the good job went on
    assert worker.alive()
    assert causal_violations(cluster.events.read(job)) == []

    # A job whose stored instance is corrupt fails with a clear error instead of hanging.
    bad_job, _ = cluster.submit("berlin52", time_s=4)
    digest = load_problem(DATA / "berlin52.tsp").content_hash()
    cluster.redis.set(cluster.keys.instance(digest), b"TSPC\x00garbage")
    rec = cluster.wait_final(bad_job, 60)
    assert rec["status"] == "failed" and rec["error"], rec
    (failed_event,) = [e for e in cluster.events.read(bad_job) if e.type is EventType.FAILED]
    assert "corrupt" in failed_event.data["error"] or "layout" in failed_event.data["error"]
    figure(request, outcomes=outcomes, unit_failed=errors, bad_job_error=rec["error"])
