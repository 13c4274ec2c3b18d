"""Store loss: Redis restarts without its data mid-job (no persistence, or a replica promoted
without the last writes). The store gets a new epoch: the client is told the job was lost by the
store (not "unknown job"), the old leader's fence and its workers' results are refused, and new
jobs run."""

from __future__ import annotations

import time

import pytest
from chaos_harness import DATA, figure, wait_until

pytestmark = pytest.mark.chaos


@pytest.mark.timeout(180)
def test_redis_restarted_without_its_data_is_detected_and_new_jobs_run(cluster, redis_server,
                                                                      request):
    cluster.worker("w1")
    coord = cluster.coordinator("coord-a", priority=1)
    cluster.wait_for_workers(1)
    job, _problem = cluster.submit("dsj1000", time_s=20)
    cluster.wait_round(job, 2)
    old = cluster.leader()
    wiped_at = time.time()
    redis_server.restart(down_s=1.0, wipe=True)

    status = cluster.cli("status", job)
    assert status.returncode == 1, status
    assert ("lost by the store (Redis restarted without its data): resubmit"
            in status.stderr), status.stderr
    new = cluster.wait_for_leader(30)
    assert new["epoch"] != old["epoch"] and new["term"] == 1  # the term restarted: fences differ
    assert "the store's epoch is now" in coord.log() or "stepping down" in coord.log()
    time.sleep(3.0)  # units and merges of the old epoch arrive meanwhile: all refused
    assert not cluster.redis.keys(f"{cluster.keys.prefix}:job:{{{job}}}*"), \
        "a write of the old epoch recreated the lost job's keys"
    unknown = cluster.cli("status", f"{new['epoch']}-000000000000")
    assert unknown.returncode == 2 and "unknown" in unknown.stderr
    later = cluster.cli("submit", str(DATA / "berlin52.tsp"), "--time", "3")
    assert later.returncode == 0, later
    later_id = later.stdout.strip()
    assert later_id.startswith(new["epoch"] + "-")
    assert cluster.wait_final(later_id, 90)["status"] == "done", cluster.logs()
    wait_until(coord.alive, 1, "the coordinator to be up")
    figure(request, old_fence=old["value"], new_fence=new["value"],
           new_leader_s=round(new["acquired_at"] - wiped_at, 3))
