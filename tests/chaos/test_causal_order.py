"""Causal order of a job's event log across client, coordinator and worker processes."""

from __future__ import annotations

import pytest
from chaos_harness import causal_violations

from tsp_celery.cluster.events import EventType

pytestmark = pytest.mark.chaos


@pytest.mark.timeout(120)
def test_every_unit_is_planned_started_finished_merged_in_lamport_order(cluster):
    cluster.worker("w1", concurrency=2)
    cluster.coordinator("coord-a")
    cluster.wait_for_workers(1)
    job, problem = cluster.submit("pcb442", time_s=6)
    cluster.check_done(job, problem)
    events = cluster.events.read(job)
    assert causal_violations(events) == []
    order = [e.type for e in events]
    assert order[0] is EventType.SUBMITTED and order[1] is EventType.ADMITTED
    assert order.index(EventType.ADMITTED) < order.index(EventType.ROUND_PLANNED)
    done = order.index(EventType.DONE)  # the leader saw every merge before deciding to stop
    assert all(i < done for i, t in enumerate(order) if t is EventType.ROUND_MERGED)
    merges = sum(t is EventType.ROUND_MERGED for t in order)
    assert merges >= 2 and len({e.node for e in events}) >= 3  # client, leader, pool processes
