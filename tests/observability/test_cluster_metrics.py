"""A coordinator's /metrics against a real Redis: jobs, exact event totals, leader, queues,
workers and per-job gauges as the cluster really is; still an answer when Redis is down."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
import redis
from processes import free_port
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tsp_celery.cluster.client import ClusterClient
from tsp_celery.cluster.connection import connect
from tsp_celery.cluster.events import EventType
from tsp_celery.cluster.job import JobParams
from tsp_celery.cluster.keys import Keys
from tsp_celery.cluster.lease import LeaderLease
from tsp_celery.cluster.workers import beat
from tsp_celery.errors import FencedWriteError
from tsp_celery.metrics.exporter import coordinator_registry
from tsp_celery.problem import load_problem
from tsp_celery.settings import Settings

pytestmark = pytest.mark.timeout(60)


def scrape(registry) -> dict[tuple[str, tuple], float]:
    """(sample name, sorted label pairs) -> value, from the text a scrape returns."""
    text = generate_latest(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.fixture
def cluster(redis_url, examples_dir):
    settings = Settings.from_env({"TSP_CELERY_REDIS_URL": redis_url,
                                  "TSP_CELERY_PREFIX": f"m{uuid.uuid4().hex[:8]}"})
    client = redis.Redis.from_url(redis_url)
    yield ClusterClient(settings, redis=client), load_problem(examples_dir / "berlin52.tsp")
    client.close()


def test_jobs_totals_and_per_job_gauges_follow_the_store(cluster):
    cc, problem = cluster
    lease = LeaderLease(cc.redis, cc.keys, "c1", 0, 3000, 1000)
    assert lease.try_acquire()
    registry = coordinator_registry(cc.redis, cc.keys, "c1", lambda: lease.is_leader)
    ids = [cc.submit(problem, JobParams(time_s=30)) for _ in range(3)]
    assert cc.store.admit(ids[0], lease.fence, "c1")[0] == "running"
    tour = np.arange(problem.n, dtype=np.int32)
    length = problem.tour_length(tour)
    cc.store.commit_best(ids[0], tour, length, 1, 1.0, False, "test")
    cc.cancel(ids[2])
    cc.redis.lpush(f"{cc.keys.prefix}:celery:solve", "m1")
    cc.redis.lpush(f"{cc.keys.prefix}:celery:solve\x06\x169", "m2")
    beat(cc.redis, cc.keys, "w1@host", {"slots": 4}, 5.0)

    s = scrape(registry)
    assert s[("tsp_celery_jobs", (("state", "queued"),))] == 1
    assert s[("tsp_celery_jobs", (("state", "running"),))] == 1
    assert s[("tsp_celery_jobs_submitted_total", ())] == 3
    assert s[("tsp_celery_jobs_cancelled_total", ())] == 1
    assert s[("tsp_celery_jobs_completed_total", ())] == 0
    job = (("job_id", ids[0]), ("name", "berlin52"))
    assert s[("tsp_celery_job_best_length", job)] == length
    assert s[("tsp_celery_job_reference_length", job)] == 7542  # the known optimum
    admitted = cc.store.record(ids[0])["admitted_at"]
    assert s[("tsp_celery_job_deadline_timestamp_seconds", job)] == pytest.approx(admitted + 30)
    assert not any(k[0] == "tsp_celery_job_best_length" and k[1] != job for k in s)
    assert s[("tsp_celery_queue_messages", (("queue", "solve"),))] == 2
    assert s[("tsp_celery_queue_messages", (("queue", "merge"),))] == 0
    assert s[("tsp_celery_workers_alive", ())] == 1
    assert s[("tsp_celery_worker_slots_alive", ())] == 4
    assert s[("tsp_celery_coordinator_is_leader", (("node", "c1"),))] == 1
    assert s[("tsp_celery_leader_lease_held", ())] == 1
    assert s[("tsp_celery_leader_term", ())] == 1
    # submitted x3 + cancelled in job 2's log; job 0 has submitted only (admit writes no event)
    assert s[("tsp_celery_event_log_entries", ())] == 1
    lease.release()
    s = scrape(registry)
    assert s[("tsp_celery_coordinator_is_leader", (("node", "c1"),))] == 0
    assert s[("tsp_celery_leader_lease_held", ())] == 0


def test_event_totals_count_each_appended_event_once_and_refused_ones_never(cluster):
    cc, _ = cluster
    lease = LeaderLease(cc.redis, cc.keys, "c1", 0, 3000, 1000)
    assert lease.try_acquire()
    registry = coordinator_registry(cc.redis, cc.keys, "c1", lambda: True)
    for _ in range(4):
        cc.events.append("j", EventType.UNIT_FINISHED, "w1", 1, {})
    cc.events.append("j", EventType.UNIT_FAILED, "w1", 2, {})
    cc.events.append("j", EventType.DONE, "c1", 3, {}, fence=lease.fence)
    with pytest.raises(FencedWriteError):
        cc.events.append("j", EventType.DONE, "c0", 4, {}, fence="c0:99")
    s = scrape(registry)
    assert s[("tsp_celery_units_succeeded_total", ())] == 4
    assert s[("tsp_celery_units_failed_total", ())] == 1
    assert s[("tsp_celery_jobs_completed_total", ())] == 1


def test_a_scrape_with_redis_down_still_says_who_leads():
    dead = connect(f"redis://127.0.0.1:{free_port()}/0", ping=False)
    registry = coordinator_registry(dead, Keys("x"), "c9", lambda: False)
    before = scrape(registry).get(("tsp_celery_redis_errors_total",
                                   (("error", "ConnectionError"),)), 0)
    s = scrape(registry)
    assert s[("tsp_celery_coordinator_is_leader", (("node", "c9"),))] == 0
    assert ("tsp_celery_workers_alive", ()) not in s
    assert s[("tsp_celery_redis_errors_total", (("error", "ConnectionError"),))] == before + 1
