"""Redis without a single point of failure: kill -9 the Sentinel-managed primary mid-job.

Real processes only: a primary and a replica (redis-server, AOF on), three sentinels
(``redis-server --sentinel``), two coordinators and two Celery workers, all on the sentinel://
URL list with commits waiting for the replica (TSP_CELERY_WAIT_REPLICAS=1).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import sys
import time
import urllib.request
from collections.abc import Iterator

import numpy as np
import pytest
from chaos_harness import figure
from processes import free_port, wait_until
from sentinel_harness import SentinelCluster, SentinelGroup

from tsp_celery.cluster.connection import connect_async
from tsp_celery.cluster.driver import LEADER_MERGE_MAX_N
from tsp_celery.cluster.events import EventType
from tsp_celery.cluster.lease import parse_fence
from tsp_celery.health import check_health

pytestmark = [pytest.mark.chaos, pytest.mark.slow]


@pytest.fixture
def sentinel_cluster(workdir, request) -> Iterator[SentinelCluster]:
    """Two Redis and three sentinels, and the chaos Cluster on them (its processes' logs and the
    sentinels' are printed when the test fails)."""
    group = SentinelGroup(workdir)
    cluster = SentinelCluster(group, workdir)
    try:
        yield cluster
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            sys.stderr.write(cluster.logs() + "".join(p.tail(15) for p in group.sentinels))
        cluster.stop()
        group.stop()


def _best(cluster: SentinelCluster, job_id: str) -> float | None:
    raw = cluster.job(job_id).get("best_length")
    return float(raw) if raw else None


def _rounds_done(cluster: SentinelCluster, job_id: str) -> int:
    return int(cluster.job(job_id).get("rounds_done") or 0)


@pytest.mark.timeout(240)
def test_primary_killed_mid_job_loses_no_committed_tour(sentinel_cluster, request):
    c = sentinel_cluster
    group = c.group
    c.coordinator("coord-a", 100)
    c.coordinator("coord-b", 50)
    c.worker("w1")
    c.worker("w2")
    c.wait_for_leader(60)
    c.wait_for_workers(2)

    job_id, problem = c.submit("kroA100", time_s=40)
    # submit() returned after the replica had the job: it is there, read directly.
    with group.direct(group.replica) as replica:
        assert replica.exists(c.keys.job(job_id)), "submit returned before the replica had it"
    wait_until(lambda: _rounds_done(c, job_id) >= 2 and _best(c, job_id), 90,
               "two merged rounds and a committed best tour")

    seen = _best(c, job_id)  # what a client saw committed...
    assert c.store.replicate("test: what the client saw")  # ...and confirmed on the replica
    rounds_before = _rounds_done(c, job_id)
    term_before = c.leader()["term"]
    old_port = group.primary.port
    killed = time.monotonic()
    group.primary.kill()  # kill -9

    promoted = wait_until(lambda: (p := group.primary_port()) not in (None, old_port) and p,
                          60, "the sentinels to promote the replica")
    promoted_s = time.monotonic() - killed
    assert promoted == group.replica.port
    wait_until(lambda: _rounds_done(c, job_id) > rounds_before, 90,
               "the job to merge a round on the new primary")
    progress_s = time.monotonic() - killed

    rec = c.check_done(job_id, problem, timeout_s=120)
    final = float(rec["best_length"])
    assert final <= seen, f"committed best {seen} got longer: {final}"
    events = c.events.read(job_id)
    assert any(e.type is EventType.ROUND_MERGED and e.data.get("round", 0) > rounds_before
               for e in events)
    # The log shows the failover: the lease lapsed while no primary answered, and the leader
    # elected on the new primary took the job over under a new term.
    takeovers = [parse_fence(e.data["fence"]).term for e in events
                 if e.type is EventType.LEADER_CHANGED]
    assert any(term > term_before for term in takeovers), takeovers

    # The old primary comes back with its old data (AOF): the sentinels make it a replica of
    # the new primary, and nothing it held beyond the new primary's history survives.
    group.primary.start()
    wait_until(lambda: group.replica_in_sync(group.primary), 60,
               "the old primary to rejoin as a replica")
    with group.direct(group.primary) as old, group.direct(group.replica) as new:
        wait_until(lambda: old.hgetall(c.keys.job(job_id)) == new.hgetall(c.keys.job(job_id)),
                   20, "the old primary to hold exactly the new primary's job record")
        assert old.get(c.keys.lease()) == new.get(c.keys.lease())

    # Every process reconnected by itself: leader and workers are live on the new primary.
    health = check_health(c.settings, "any", min_workers=2)
    assert health.ok, health.reason
    figure(request, promoted_s=round(promoted_s, 2), progress_s=round(progress_s, 2),
           best_before_kill=seen, best_final=final)


@pytest.mark.timeout(180)
def test_replica_lost_jobs_go_on_and_commits_report_the_shortfall(sentinel_cluster):
    c = sentinel_cluster
    group = c.group
    c.coordinator("coord-a", 100)
    c.worker("w1")
    c.wait_for_leader(60)
    c.wait_for_workers(1)
    assert check_health(c.settings, "any").degraded is None

    group.replica.kill()
    wait_until(lambda: (h := check_health(c.settings, "any")).degraded and h, 30,
               "health to turn yellow")
    report = c.cli("health")
    assert report.returncode == 0 and report.stdout.startswith("degraded (0 of 1 replica(s)"), \
        report.stdout + report.stderr

    job_id, problem = c.submit("berlin52", time_s=8)  # returns: the shortfall is only logged
    assert not c.store.replicate("test: no replica")
    c.check_done(job_id, problem, timeout_s=90)
    # Each commit a client relies on said it is not durable: the job's end (coordinator) and
    # its best tours (merged by the leader for an instance this small, on a worker for a large
    # one: LEADER_MERGE_MAX_N).
    coordinator, worker = c.procs
    wait_until(lambda: f"job {job_id}: done: only 0 of 1 replica(s) confirmed" in coordinator.log(),
               10, "the coordinator to log the shortfall of the job's end")
    merger = coordinator if problem.n <= LEADER_MERGE_MAX_N else worker
    assert re.search(rf"job {job_id}: best tour \S+: only 0 of 1", merger.log()), merger.log()


@pytest.mark.timeout(120)
def test_flower_and_the_gateway_client_reach_the_primary_through_the_sentinels(sentinel_cluster):
    """The parts not in the failover test: Flower (launched as operators do) reads the queues
    through the sentinels, and the gateway's asyncio client writes to the primary."""
    c = sentinel_cluster
    port = free_port()
    c.env["FLOWER_BASIC_AUTH"] = "ops:s3cret"  # its API needs a login
    flower = c._start("flower", [sys.executable, "-m", "tsp_celery", "ops", "flower",
                                 f"--port={port}"])

    def queue_lengths() -> dict | None:
        try:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/api/queues/length")
            request.add_header("Authorization",
                               "Basic " + base64.b64encode(b"ops:s3cret").decode())
            with urllib.request.urlopen(request, timeout=3) as response:
                return json.loads(response.read())
        except OSError:
            return None

    lengths = wait_until(queue_lengths, 60, "Flower's queue lengths (its broker on sentinels)")
    assert {q["name"] for q in lengths["active_queues"]} >= {"solve", "merge"}, lengths
    assert flower.alive()

    async def gateway_write() -> None:
        client = connect_async(c.settings, max_connections=2, socket_timeout=5)
        try:
            await client.set("chaos:gateway-probe", "1")
        finally:
            await client.aclose()

    asyncio.run(gateway_write())
    with c.group.direct(c.group.primary) as primary:
        assert primary.get("chaos:gateway-probe") == b"1"


@pytest.mark.timeout(120)
def test_a_best_tour_confirmed_by_the_replica_survives_a_kill_right_after(sentinel_cluster):
    """No coordinator or worker: the commit, its WAIT and the kill -9 back to back."""
    c = sentinel_cluster
    group = c.group
    job_id, problem = c.submit("burma14", time_s=5)
    tour = np.arange(problem.n)
    length = problem.tour_length(tour)
    assert c.store.commit_best(job_id, tour, length, 1, 0.1, False, "test") is True
    # commit_best waited for the replica: it holds the tour before the primary dies.
    with group.direct(group.replica) as replica:
        assert replica.get(c.keys.job_best_tour(job_id)) is not None
    old_port = group.primary.port
    group.primary.kill()
    wait_until(lambda: group.primary_port() not in (None, old_port), 60,
               "the sentinels to promote the replica")
    # The test's own sentinel client follows the promotion and finds the committed tour.
    rec = wait_until(lambda: c.job(job_id), 30, "the job record on the new primary")
    assert float(rec["best_length"]) == length
    assert list(c.store.best_tour(job_id)) == list(tour)
