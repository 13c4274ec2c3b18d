"""Coordinator faults: kill -9 of the leader, and a leader paused (SIGSTOP) past its lease."""

from __future__ import annotations

import signal
import time

import pytest
from chaos_harness import causal_violations, figure, lost_unit_seconds, wait_until

from tsp_celery.cluster.events import EventType

pytestmark = pytest.mark.chaos


def start(cluster):
    """Two workers, leader coord-a (priority 5), standby coord-b (priority 1)."""
    cluster.worker("w1")
    cluster.worker("w2")
    a = cluster.coordinator("coord-a", priority=5)
    cluster.wait_for_workers(2)
    assert cluster.wait_for_leader()["node_id"] == "coord-a"
    b = cluster.coordinator("coord-b", priority=1)
    return a, b


@pytest.mark.timeout(150)
def test_kill_leader_mid_job_standby_takes_over(cluster, request):
    a, _b = start(cluster)
    job, problem = cluster.submit("dsj1000", time_s=20)
    cluster.wait_round(job, 2)
    best_before = float(cluster.job(job)["best_length"])
    killed_at = time.time()
    a.signal(signal.SIGKILL)

    leader = cluster.wait_for_leader(20, not_node="coord-a")
    assert (leader["node_id"], leader["term"]) == ("coord-b", 2)
    rec = cluster.check_done(job, problem)
    assert float(rec["best_length"]) <= best_before

    events = cluster.events.read(job)
    resumed = [e for e in events if e.type is EventType.LEADER_CHANGED and e.node == "coord-b"]
    assert len(resumed) == 1 and resumed[0].data["fence"] == leader["value"]
    assert causal_violations(events) == []
    figure(request, takeover_s=round(leader["acquired_at"] - killed_at, 3),
           resumed_s=round(resumed[0].wall - killed_at, 3),
           lost_unit_s=lost_unit_seconds(cluster.store, job),
           best_before=best_before, best_final=float(rec["best_length"]))


@pytest.mark.timeout(150)
def test_paused_leader_is_fenced_and_steps_down(cluster, request):
    a, _b = start(cluster)
    job, problem = cluster.submit("dsj1000", time_s=20)
    cluster.wait_round(job, 2)  # units of round 2, dispatched by coord-a, are running
    stopped_at = time.time()
    a.signal(signal.SIGSTOP)
    leader = cluster.wait_for_leader(20, not_node="coord-a")
    assert (leader["node_id"], leader["term"]) == ("coord-b", 2)
    # Round 2 was planned under coord-a's fence; its merge fires after the takeover: refused.
    wait_until(lambda: cluster.store.round_merged(job, 2), 30, "round 2 closed by coord-b")
    a.signal(signal.SIGCONT)
    wait_until(lambda: "stepping down" in a.log(), 20, "coord-a to step down")

    rec = cluster.check_done(job, problem)
    old_fence = f"coord-a:{leader['epoch']}:1"
    # Refused either by a fenced script, or before: the merge task reads the round's fence
    # from the store and leaves a deposed leader's round to its successor.
    marks = (f"write refused: {old_fence}", f"planned under '{old_fence}', not the lease now")
    refused = [p.name for p in cluster.procs if any(m in p.log() for m in marks)]
    assert refused, f"no refusal of {old_fence} in any log"
    info = cluster.leader()
    assert info is None or info["term"] == 2  # coord-a never led again
    # Consistent state: rounds 1..n each planned once and closed once; none planned by the
    # paused leader after it was stopped; the job's events in causal order.
    rounds = cluster.store.rounds(job)
    assert sorted(rounds) == list(range(1, int(rec["rounds_done"]) + 1))
    assert all(r["plan"] and r["merged"] for r in rounds.values())
    assert not [n for n, r in rounds.items()
                if r["plan"]["fence"] == old_fence and r["plan"]["planned_at"] > stopped_at]
    assert rounds[2]["merged"]["closer"] != "chord"
    assert causal_violations(cluster.events.read(job)) == []
    old_leader = [line for line in a.log().splitlines() if old_fence in line]
    figure(request, refused_in=refused, old_leader_log=old_leader[-3:],
           lost_unit_s=lost_unit_seconds(cluster.store, job),
           takeover_s=round(leader["acquired_at"] - stopped_at, 3))
