"""Redis fault: the test's own redis-server (AOF everysec) is killed -9 and restarted mid-job."""

from __future__ import annotations

import time

import pytest
from chaos_harness import causal_violations, figure, lost_unit_seconds

from tsp_celery.cluster.events import EventType

pytestmark = pytest.mark.chaos


@pytest.mark.timeout(180)
def test_redis_restart_mid_job_loses_no_committed_best(cluster, redis_server, request):
    cluster.worker("w1")
    cluster.worker("w2")
    cluster.coordinator("coord-a", priority=1)
    cluster.wait_for_workers(2)
    job, problem = cluster.submit("dsj1000", time_s=25)
    cluster.wait_round(job, 2)
    best_before = float(cluster.job(job)["best_length"])
    killed_at = time.time()
    redis_server.restart(down_s=2.0)  # kill -9, then the same port and AOF dir
    restarted_at = time.time()

    rec = cluster.check_done(job, problem, timeout_s=120)
    assert float(rec["best_length"]) <= best_before
    events = cluster.events.read(job)
    assert events[0].type is EventType.SUBMITTED  # the log from before the crash survived
    after = [e for e in events if e.wall > restarted_at]
    assert any(e.type is EventType.ROUND_PLANNED for e in after)  # the coordinator is back
    workers_back = {e.data.get("worker", "").split("@")[0] for e in after
                    if e.type is EventType.UNIT_FINISHED}
    assert workers_back, "no unit finished after the restart"
    assert causal_violations(events) == []
    first_plan = min(e.wall for e in after if e.type is EventType.ROUND_PLANNED)
    figure(request, best_before=best_before, best_final=float(rec["best_length"]),
           workers_back=sorted(workers_back), resumed_s=round(first_plan - killed_at, 3),
           lost_unit_s=lost_unit_seconds(cluster.store, job))
