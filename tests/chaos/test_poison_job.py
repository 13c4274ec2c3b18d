"""A poison job beside a good one: the good one completes, the poison one is failed with its
reason, and no coordinator goes down (before, every coordinator that picked it up crashed)."""

from __future__ import annotations

import json

import pytest
from chaos_harness import figure

pytestmark = pytest.mark.chaos


@pytest.mark.timeout(120)
def test_a_poison_job_fails_alone_and_no_coordinator_restarts(cluster, request):
    poison, _ = cluster.submit("berlin52", time_s=10)
    # As a client that skipped validation would write it: planning cannot use stall_rounds 0.
    cluster.redis.hset(cluster.keys.job(poison), "params",
                       json.dumps({"time_s": 10, "stall_rounds": 0, "seed": 1}))
    good, problem = cluster.submit("pcb442", time_s=8)
    cluster.worker("w1")
    a = cluster.coordinator("coord-a", priority=5)
    b = cluster.coordinator("coord-b", priority=1)
    cluster.check_done(good, problem, timeout_s=90)
    rec = cluster.wait_final(poison, 30)
    assert rec["status"] == "failed" and "stall_rounds" in rec["error"], rec
    failed = [e for e in cluster.events.read(poison) if e.type.value == "failed"]
    assert len(failed) == 1 and "stall_rounds" in failed[0].data["error"]
    assert a.alive() and b.alive()
    assert cluster.leader()["term"] == 1  # the first leader (either one) never went down
    figure(request, poison_error=rec["error"])
