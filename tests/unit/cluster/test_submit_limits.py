"""Limits and job checks where a client cannot skip them: the SUBMIT script and admission.

A "raw" client here is one that skips our client's checks: it calls the SUBMIT script itself
with arguments of its choosing, or writes the job's keys directly. Runs on the real Redis
(the SUBMIT script's cjson and error replies as Redis has them) and on fakeredis.
"""

from __future__ import annotations

import json
import time
import zlib

import pytest

from tests.unit.cluster.test_coordinator import Recorder, problem
from tsp_celery.cluster import scripts
from tsp_celery.cluster.admission import JobRefused, parse_params
from tsp_celery.cluster.client import ClusterClient
from tsp_celery.cluster.codec import MAGIC, encode_problem
from tsp_celery.cluster.coordinator import Coordinator
from tsp_celery.cluster.events import EventLog, EventType
from tsp_celery.cluster.workers import beat
from tsp_celery.errors import LimitExceededError
from tsp_celery.settings import Settings

pytestmark = pytest.mark.timeout(30)

CLUSTER_LIMITS = {"max_nodes": 50, "max_instance_bytes": 4096, "max_job_seconds": 60.0,
                  "max_active_jobs": 3}


@pytest.fixture
def cluster_settings(keys) -> Settings:
    """What the coordinators run with (and publish)."""
    return Settings(prefix=keys.prefix, lease_ttl_ms=60_000, lease_renew_ms=1000,
                    **CLUSTER_LIMITS)


@pytest.fixture
def lax_client(any_redis, keys) -> ClusterClient:
    """A client whose own limits are far looser than the cluster's (a misconfigured client)."""
    return ClusterClient(Settings(prefix=keys.prefix), redis=any_redis)


@pytest.fixture
def coord(any_redis, cluster_settings) -> Coordinator:
    c = Coordinator(cluster_settings, "c1", dispatcher=Recorder(), redis=any_redis)
    assert c.lease.try_acquire()
    c._follow_lease()  # leader: publishes the limits
    beat(any_redis, c.keys, "w1", {"slots": 4}, ttl_s=30)
    return c


def job_keys(redis, keys) -> list[bytes]:
    """Every key of jobs and instances (the limits hash and leadership keys excluded)."""
    return sorted(k for k in redis.keys(f"{keys.prefix}:*")
                  if b":job" in k or b":instance:" in k)


def raw_submit(redis, keys, *, n=10, params=None, blob=b"x" * 100, body_bytes=None,
               client_limits=("1000000000", "1000000000", "1e9", "1000000"), job_id="raw1"):
    """Call SUBMIT as a client that skips every check would, with generous limits of its own."""
    params = {"time_s": 10.0} if params is None else params
    record = {"job_id": job_id, "status": "queued", "n": n, "instance": "ab12",
              "params": params if isinstance(params, str) else json.dumps(params)}
    args = [blob, 3600, job_id, time.time(), time.time(),
            len(blob) if body_bytes is None else body_bytes, *client_limits]
    for k, v in record.items():
        args += [k, v]
    script = redis.register_script(scripts.SUBMIT)
    return script(keys=[keys.instance("ab12"), keys.job(job_id), keys.jobs(), keys.jobs_queued(),
                        keys.jobs_active(), keys.limits()], args=args)


@pytest.mark.parametrize("change, reason", [
    ({"n": 51}, "instance has 51 nodes, the limit is 50 (max_nodes)"),
    ({"blob": b"x" * 5000}, "instance is 5000 bytes decompressed, the limit is 4096"),
    ({"body_bytes": 10**6}, "the limit is 4096 (max_instance_bytes)"),
    ({"params": {"time_s": 61}}, "time budget 61 s exceeds the limit of 60 s (max_job_seconds)"),
    ({"params": {"time_s": 0}}, "time budget must be a finite number > 0"),
    ({"params": {"time_s": "10"}}, "time budget must be a finite number > 0"),
    ({"params": {}}, "time budget must be a finite number > 0"),
    ({"params": {"time_s": 5, "stall_rounds": 0}}, "stall_rounds must be an integer >= 1"),
    ({"params": {"time_s": 5, "stall_rounds": 1.5}}, "stall_rounds must be an integer >= 1"),
    ({"params": {"time_s": 5, "target": -1}}, "target must be a finite number > 0"),
    ({"params": "{not json"}, "job parameters are not a JSON object"),
    ({"n": "many"}, "job record has no valid n"),
])
def test_submit_script_refuses_a_raw_job_over_the_published_limits_and_stores_nothing(
        any_redis, keys, coord, change, reason):
    with pytest.raises(Exception, match="LIMIT") as info:
        raw_submit(any_redis, keys, **change)
    assert reason in str(info.value)
    assert job_keys(any_redis, keys) == []


def test_submit_script_accepts_a_raw_job_within_the_limits(any_redis, keys, coord):
    assert raw_submit(any_redis, keys) == 1
    assert any_redis.hget(keys.job("raw1"), "status") == b"queued"


def test_without_published_limits_the_scripts_arguments_apply(any_redis, keys):
    strict = ("5", "4096", "60", "10")
    with pytest.raises(Exception, match=r"limit is 5 \(max_nodes\)"):
        raw_submit(any_redis, keys, client_limits=strict)
    assert job_keys(any_redis, keys) == []


def test_unfinished_jobs_per_cluster_are_capped(any_redis, keys, coord, lax_client):
    for i in range(3):
        lax_client.submit(problem(10, seed=i), {"time_s": 5})
    with pytest.raises(LimitExceededError, match="holds 3 unfinished jobs, the limit is 3"):
        lax_client.submit(problem(10, seed=9), {"time_s": 5})
    assert len(lax_client.store.queued_ids()) == 3


def test_a_lax_client_is_refused_by_the_cluster_with_a_clear_error(any_redis, keys, coord,
                                                                    lax_client):
    with pytest.raises(LimitExceededError, match="refused by the cluster: instance has 80 nodes"):
        lax_client.submit(problem(80), {"time_s": 5})
    with pytest.raises(LimitExceededError, match="exceeds the limit of 60 s"):
        lax_client.submit(problem(10), {"time_s": 600})
    assert job_keys(any_redis, keys) == []


def test_our_client_checks_its_own_limits_before_sending(any_redis, keys):
    strict = ClusterClient(Settings(prefix=keys.prefix, max_nodes=20), redis=any_redis)
    with pytest.raises(LimitExceededError, match="instance has 30 nodes, the limit is 20"):
        strict.submit(problem(30), {"time_s": 5})
    small = ClusterClient(Settings(prefix=keys.prefix, max_instance_bytes=300), redis=any_redis)
    with pytest.raises(LimitExceededError, match="bytes decompressed, the limit is 300"):
        small.submit(problem(30), {"time_s": 5})
    assert any_redis.keys(f"{keys.prefix}:*") == []


@pytest.mark.parametrize("raw, reason", [
    ({"time_s": float("inf")}, "time budget must be a finite number"),
    ({"time_s": float("nan")}, "time budget must be a finite number"),
    ({"time_s": True}, "time budget must be a finite number"),
    ({"time_s": 1, "priority": 10**7}, "priority must be an integer"),
    ({"time_s": 1, "seed": -1}, "seed must be an integer"),
    ({"time_s": 1, "seed": 1.0}, "seed must be an integer"),
    ({"time_s": 1, "stall_rounds": 0}, "stall_rounds must be an integer"),
    ({"time_s": 1, "merge": "yes"}, "merge must be true or false"),
    ({"time_s": 1, "target": float("inf")}, "target must be a finite number"),
    ([1, 2], "not an object"),
])
def test_parse_params_checks_every_field(raw, reason):
    with pytest.raises(JobRefused, match=reason):
        parse_params(raw, Settings())


def write_raw_job(redis, keys, job_id: str, params: dict, blob: bytes, n: int) -> str:
    """A job written key by key, as a client that bypasses SUBMIT entirely could."""
    digest = f"{abs(hash(blob)):x}"
    redis.set(keys.instance(digest), blob)
    redis.hset(keys.job(job_id), mapping={"job_id": job_id, "status": "queued", "n": n,
                                          "instance": digest, "params": json.dumps(params),
                                          "created_at": time.time()})
    redis.zadd(keys.jobs(), {job_id: time.time()})
    redis.zadd(keys.jobs_queued(), {job_id: time.time()})
    return digest


def zlib_bomb(inflated: int) -> bytes:
    """An instance blob whose body inflates to ``inflated`` zero bytes (a few KB stored)."""
    return MAGIC + zlib.compress(b"\0" * inflated, 9)


@pytest.mark.parametrize("params, blob, n, reason", [
    ({"time_s": 5, "stall_rounds": 0}, None, 10, "stall_rounds must be an integer"),
    ({"time_s": 600}, None, 10, "exceeds the limit of 60 s (max_job_seconds)"),
    ({"time_s": 5}, None, 7, "job record says n = '7' but its instance has 10 nodes"),
    ({"time_s": 5}, "bomb", 10, "over 4096 bytes decompressed"),
    ({"time_s": 5}, b"TSPI1garbage", 10, "stored instance is corrupt"),
    ({"time_s": 5}, "big", 80, "instance has 80 nodes, the limit is 50"),
])
def test_admission_fails_a_raw_job_with_its_reason_and_admits_the_good_one(
        any_redis, keys, coord, lax_client, params, blob, n, reason):
    blob = {None: encode_problem(problem(10)), "bomb": zlib_bomb(10**6),
            "big": encode_problem(problem(80))}.get(blob, blob)
    digest = write_raw_job(any_redis, keys, "poison", params, blob, n)
    good = lax_client.submit(problem(12), {"time_s": 5})
    coord.tick()
    status = lax_client.status("poison")
    assert status["status"] == "failed"
    assert status["error"].startswith("refused at admission: ") and reason in status["error"]
    failed = [e for e in EventLog(any_redis, keys).read("poison")
              if e.type == EventType.FAILED.value]
    assert len(failed) == 1 and reason in failed[0].data["error"]
    assert not any_redis.exists(keys.instance(digest)), "the refused job's instance is removed"
    assert "poison" not in coord.drivers and "poison" not in lax_client.store.queued_ids()
    assert lax_client.status(good)["status"] == "running" and good in coord.drivers


def test_a_refused_job_leaves_an_instance_a_good_job_shares(any_redis, keys, coord, lax_client):
    good = lax_client.submit(problem(12), {"time_s": 5})
    shared = any_redis.hget(keys.job(good), "instance").decode()
    any_redis.hset(keys.job("poison"), mapping={
        "job_id": "poison", "status": "queued", "n": 12, "instance": shared,
        "params": json.dumps({"time_s": 5, "stall_rounds": 0})})
    any_redis.zadd(keys.jobs_queued(), {"poison": 0})  # ahead of the good job
    coord.tick()
    assert lax_client.status("poison")["status"] == "failed"
    assert any_redis.exists(keys.instance(shared))
    assert lax_client.status(good)["status"] == "running"


def test_limits_published_by_the_leader_are_its_settings(any_redis, keys, coord):
    published = {k.decode(): v.decode() for k, v in any_redis.hgetall(keys.limits()).items()}
    assert {k: float(v) for k, v in published.items()} == {
        k: float(v) for k, v in CLUSTER_LIMITS.items()}


def test_workers_inflate_stored_instances_with_the_cap(any_redis, keys):
    store = ClusterClient(Settings(prefix=keys.prefix, max_instance_bytes=4096),
                          redis=any_redis).store
    any_redis.set(keys.instance("bomb"), zlib_bomb(10**8))
    started = time.monotonic()
    with pytest.raises(LimitExceededError, match="over 4096 bytes decompressed"):
        store.load_problem("bomb")
    assert time.monotonic() - started < 5  # stopped at the cap, not after inflating 100 MB
