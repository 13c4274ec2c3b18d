"""Worker faults: kill -9 of the pool process running a unit, and of a whole worker."""

from __future__ import annotations

import os
import signal
import time

import pytest
from chaos_harness import causal_violations, figure, lost_unit_seconds, wait_until

from tsp_celery.cluster.events import EventType

pytestmark = pytest.mark.chaos


def running_unit(cluster, job: str, worker: str) -> tuple[int, str, float]:
    """(round, unit id, wall time started) of a unit ``worker`` runs now."""
    def find():
        events = cluster.events.read(job)
        done = {(e.data.get("round"), e.data.get("unit")) for e in events
                if e.type in (EventType.UNIT_FINISHED, EventType.UNIT_FAILED)}
        for e in reversed(events):
            key = (e.data.get("round"), e.data.get("unit"))
            if (e.type is EventType.UNIT_STARTED and str(e.data.get("worker", "")).startswith(
                    f"{worker}@") and key not in done):
                return (*key, e.wall)
        return None
    return wait_until(find, 30, f"{worker} running a unit of {job}")


@pytest.mark.timeout(150)
@pytest.mark.parametrize("target", ["pool-process", "whole-worker"])
def test_worker_killed_mid_unit_job_completes(cluster, request, target):
    w1 = cluster.worker("w1")
    cluster.worker("w2")
    cluster.coordinator("coord-a", priority=1)
    cluster.wait_for_workers(2)
    job, problem = cluster.submit("dsj1000", time_s=20)
    cluster.wait_round(job, 2)
    round_no, unit, started = running_unit(cluster, job, "w1")
    killed_at = time.time()
    if target == "pool-process":
        (child,) = w1.children()  # -c 1: the one prefork child runs the unit
        os.kill(child.pid, signal.SIGKILL)
    else:
        w1.stop()  # SIGKILL to the worker and its pool: its unacked message stays with it

    rec = cluster.check_done(job, problem)
    events = cluster.events.read(job)
    attempts = [e.data.get("attempt") for e in events if e.type is EventType.UNIT_STARTED
                and (e.data.get("round"), e.data.get("unit")) == (round_no, unit)]
    merged = cluster.store.round_merged(job, round_no)
    redelivered = len(attempts) > 1 and max(attempts) >= 2
    lost = unit in merged["missing"]
    assert redelivered or lost, (attempts, merged)
    if lost:
        assert any(e.type is EventType.UNIT_LOST and e.data.get("round") == round_no
                   for e in events)
    if target == "pool-process":
        assert w1.alive()  # the worker survives the loss of a pool process
    assert causal_violations(events) == []
    # Work lost: the slice the killed unit had run (redelivered), or its whole planned budget
    # when its round closed without it.
    figure(request, target=target, unit=unit, redelivered=redelivered, closed_without=lost,
           ran_before_kill_s=round(killed_at - started, 3),
           lost_unit_s=lost_unit_seconds(cluster.store, job), best=float(rec["best_length"]))
