"""The job store's Lua scripts, on fakeredis[lua] and on the real Redis (fixture ``any_redis``).

What a user relies on: submit writes everything or nothing; only the current leader changes a
job's control state; the best tour only ever gets shorter; a unit result is written once; a
round closes once; a finished job is frozen and expires after the retention.
"""

from __future__ import annotations

import numpy as np
import pytest

from tsp_celery.cluster.job import JobParams, JobStatus
from tsp_celery.cluster.store import JobStore
from tsp_celery.errors import FencedWriteError, JobNotFoundError, LimitExceededError
from tsp_celery.problem import Problem
from tsp_celery.settings import Settings

pytestmark = pytest.mark.timeout(30)

FENCE = "c1:e1:1"


@pytest.fixture
def store(any_redis, keys) -> JobStore:
    settings = Settings(prefix=keys.prefix, retention_s=3600, max_nodes=500,
                        max_job_seconds=60.0)
    return JobStore(any_redis, keys, settings)


def _lead(store: JobStore, fence: str = FENCE) -> None:
    store.redis.set(store.keys.lease(), fence, px=60_000)


def _problem(n: int = 20, seed: int = 1) -> Problem:
    xy = np.random.default_rng(seed).integers(0, 1000, size=(n, 2)).astype(float)
    return Problem(name=f"p{n}", edge_weight_type="EUC_2D", coords=xy)


def _running(store: JobStore, **params) -> tuple[str, Problem]:
    problem = _problem()
    job_id = store.submit(problem, JobParams(**params))
    _lead(store)
    assert store.admit(job_id, FENCE, "c1")[0] == "running"
    return job_id, problem


def test_submit_stores_the_instance_once_and_queues_by_priority_then_age(store):
    p = _problem()
    low = store.submit(p, JobParams(priority=0))
    high = store.submit(p, JobParams(priority=5))
    later = store.submit(_problem(seed=2), JobParams(priority=0))
    assert store.queued_ids() == [high, low, later]
    assert store.job_ids() == [later, high, low]
    assert len(store.redis.keys(store.keys.instance("*"))) == 2
    rec = store.record(low)
    assert rec["status"] == "queued" and rec["n"] == 20 and rec["instance"] == p.content_hash()
    assert JobParams.from_dict(rec["params"]) == JobParams(priority=0)
    assert store.load_problem(rec["instance"]).content_hash() == p.content_hash()
    assert 0 < store.redis.ttl(store.keys.instance(p.content_hash())) <= 3600


@pytest.mark.parametrize("problem, params, match", [
    (_problem(600), JobParams(), "600 nodes"),
    (_problem(), JobParams(time_s=61), "time budget"),
])
def test_limits_refuse_a_submission_before_anything_is_written(store, problem, params, match):
    with pytest.raises(LimitExceededError, match=match):
        store.submit(problem, params)
    assert store.redis.keys(f"{store.keys.prefix}:*") == []


def test_instance_byte_limit(any_redis, keys):
    store = JobStore(any_redis, keys, Settings(prefix=keys.prefix, max_instance_bytes=100))
    with pytest.raises(LimitExceededError, match="bytes"):
        store.submit(_problem(200), JobParams())
    assert any_redis.keys(f"{keys.prefix}:*") == []


def test_unknown_job(store):
    with pytest.raises(JobNotFoundError):
        store.record("nope")
    with pytest.raises(JobNotFoundError):
        store.cancel("nope")


def test_admission_is_fenced_and_happens_once(store):
    job_id = store.submit(_problem(), JobParams())
    _lead(store, "c2:e1:2")
    with pytest.raises(FencedWriteError):
        store.admit(job_id, FENCE, "c1")
    assert store.record(job_id)["status"] == "queued" and store.queued_ids() == [job_id]
    assert store.admit(job_id, "c2:e1:2", "c2")[0] == "running"
    assert store.admit(job_id, "c2:e1:2", "c2")[0] == "running"  # no longer queued: not re-admitted
    rec = store.record(job_id)
    assert rec["leader"] == "c2" and rec["admitted_at"] > 0
    assert store.queued_ids() == [] and store.active_ids() == [job_id]


def test_cancel_of_a_queued_job_is_immediate_and_of_a_running_one_a_request(store):
    queued = store.submit(_problem(), JobParams())
    assert store.cancel(queued) == "cancelled"
    assert store.record(queued)["status"] == "cancelled" and store.queued_ids() == []
    _lead(store)
    assert store.admit(queued, FENCE, "c1")[0] == "cancelled"  # a leader cannot revive it
    running, _ = _running(store)
    assert store.cancel(running) == "running"
    rec = store.record(running)
    assert rec["status"] == "running" and rec["cancel_requested"] is True
    assert rec["cancel_round"] == 0 and rec["cancel_at"] > 0


def test_unit_results_first_write_wins(store):
    job_id, _ = _running(store)
    assert store.record_unit(job_id, 1, "r1-u0", {"ok": True, "length": 10}, np.arange(20))
    assert not store.record_unit(job_id, 1, "r1-u0", {"ok": True, "length": 5}, np.arange(20)[::-1])
    assert store.unit_records(job_id, 1) == {"r1-u0": {"ok": True, "length": 10}}
    assert np.array_equal(store.unit_tour(job_id, "r1-u0"), np.arange(20))
    assert store.record_unit(job_id, 1, "r1-u1", {"ok": False, "error": "boom"}, None)
    assert store.unit_tour(job_id, "r1-u1") is None


def test_best_tour_only_gets_shorter(store):
    job_id, p = _running(store)
    t1 = np.arange(20)
    t2 = np.random.default_rng(3).permutation(20)
    lengths = sorted([(p.tour_length(t1), t1), (p.tour_length(t2), t2)], key=lambda x: x[0])
    (short, short_tour), (long, long_tour) = lengths
    assert store.commit_best(job_id, long_tour, long, 1, 0.5, False, "a") is True
    assert store.commit_best(job_id, short_tour, short, 2, 0.9, False, "b") is True
    assert store.commit_best(job_id, long_tour, long, 3, 1.0, False, "c") is False
    assert store.commit_best(job_id, short_tour, short, 3, 1.0, False, "c") is False
    rec = store.record(job_id)
    assert rec["best_length"] == short and rec["best_round"] == 2 and rec["engine"] == "b"
    assert rec["proven_optimal"] is False
    assert np.array_equal(store.best_tour(job_id), short_tour)
    # An equal tour may add the proof, not replace the tour.
    assert store.commit_best(job_id, long_tour, short, 4, 1.1, True, "exact") is False
    rec = store.record(job_id)
    assert rec["proven_optimal"] is True and rec["best_round"] == 2


def test_float_lengths_compare_exactly(store):
    job_id, _ = _running(store)
    assert store.commit_best(job_id, np.arange(20), 1234.5678901234567, 1, 0.1, False, "a")
    assert not store.commit_best(job_id, np.arange(20), 1234.5678901234567, 2, 0.2, False, "a")
    assert store.commit_best(job_id, np.arange(20), 1234.5678901234565, 3, 0.3, False, "a")
    assert store.record(job_id)["best_length"] == 1234.5678901234565


def test_part_tours_are_kept_until_taken_once(store):
    job_id, _ = _running(store)
    store.store_part(job_id, 1, np.array([5, 3, 4]))
    store.store_part(job_id, 0, np.array([0, 2, 1]))
    parts = store.take_parts(job_id, 3)
    assert [p.tolist() if p is not None else None for p in parts] == [[0, 2, 1], [5, 3, 4], None]
    assert store.take_parts(job_id, 2) == [None, None]  # taken: gone


def test_plan_round_is_fenced_and_snapshots_the_best_tour(store):
    job_id, p = _running(store)
    store.commit_best(job_id, np.arange(20), p.tour_length(np.arange(20)), 0, 0.1, False, "x")
    with pytest.raises(FencedWriteError):
        store.plan_round(job_id, 1, {"plan": {}}, "old:0")
    assert store.plan_round(job_id, 1, {"plan": {"k": 1}}, FENCE)[0] == "ok"
    assert store.record(job_id)["round"] == 1
    assert store.rounds(job_id) == {1: {"plan": {"plan": {"k": 1}}, "merged": None}}
    assert store.round_plan(job_id, 1) == {"plan": {"k": 1}}
    assert store.round_plan(job_id, 2) is None
    assert np.array_equal(store.base_tour(job_id, 1), np.arange(20))
    # The snapshot does not follow later commits: segments refer to the planned base.
    t = np.arange(20)[::-1].copy()
    t[[3, 4]] = t[[4, 3]]
    store.commit_best(job_id, t, 1, 1, 0.2, False, "y")
    assert np.array_equal(store.base_tour(job_id, 1), np.arange(20))


def test_close_round_once_counts_rounds_without_improvement(store):
    job_id, _ = _running(store)
    for r in (1, 2, 3):
        store.plan_round(job_id, r, {"plan": r}, FENCE)
    assert store.close_round(job_id, 1, {"round": 1}, True, FENCE)
    assert not store.close_round(job_id, 1, {"round": 1, "again": True}, False, FENCE)
    assert store.close_round(job_id, 2, {"round": 2}, False, FENCE)
    assert store.close_round(job_id, 3, {"round": 3}, False, FENCE)
    rec = store.record(job_id)
    assert rec["rounds_done"] == 3 and rec["stall"] == 2
    assert store.round_merged(job_id, 1) == {"round": 1}
    with pytest.raises(FencedWriteError):
        store.close_round(job_id, 4, {}, True, "other:9")
    assert store.round_merged(job_id, 4) is None


def test_finish_is_fenced_final_and_starts_the_retention_clock(store):
    job_id, p = _running(store)
    store.plan_round(job_id, 1, {"plan": 1}, FENCE)
    store.record_unit(job_id, 1, "u", {"ok": True}, np.arange(20))
    store.commit_best(job_id, np.arange(20), p.tour_length(np.arange(20)), 1, 0.1, False, "x")
    with pytest.raises(FencedWriteError):
        store.finish(job_id, JobStatus.DONE, "old:0")
    assert store.finish(job_id, JobStatus.DONE, FENCE) == "done"
    assert store.finish(job_id, JobStatus.FAILED, FENCE, "late") == "done"
    rec = store.record(job_id)
    assert rec["status"] == "done" and rec["finished_at"] > 0 and rec["error"] == ""
    assert store.active_ids() == []
    k = store.keys
    for key in (k.job(job_id), k.job_best_tour(job_id), k.job_rounds(job_id),
                k.job_units(job_id, 1)):
        assert 0 < store.redis.ttl(key) <= 3600, key
    # A frozen job keeps its tour even if a late merge offers a shorter one.
    assert store.commit_best(job_id, np.arange(20), 1, 2, 0.2, False, "late") == "final"
    assert store.record(job_id)["best_length"] == p.tour_length(np.arange(20))


def test_attempt_counter_counts_runs_that_never_finished(store):
    assert [store.start_attempt("t1") for _ in range(3)] == [(1, 0), (2, 1), (3, 2)]
    store.end_attempt("t1")  # the third run returned: the first two died with their process
    assert store.start_attempt("t1") == (4, 2)
    store.end_attempt("t1")
    assert store.start_attempt("t2") == (1, 0)
    assert store.redis.ttl(store.keys.attempts("t1")) > 0


def test_elite_pool_keeps_the_shortest_distinct_tours_and_only_the_leader_writes_it(store):
    job_id, p = _running(store)
    rng = np.random.default_rng(5)
    offers = sorted(((p.tour_length(t), t) for t in (rng.permutation(20) for _ in range(8))),
                    key=lambda o: o[0])
    lengths = [length for length, _ in offers]
    assert len(set(lengths)) == 8
    assert store.elite_tours(job_id) == []
    assert store.offer_elite(job_id, offers[4:], FENCE, size=3) == 3
    with pytest.raises(FencedWriteError):  # a deposed leader's merge: refused, pool unchanged
        store.offer_elite(job_id, offers[:4], "old:0", size=3)
    pool = store.elite_tours(job_id)
    assert [p.tour_length(t) for t in pool] == lengths[4:7]
    assert store.elite_size(job_id) == 3
    for (_, want), got in zip(offers[4:7], pool, strict=True):
        np.testing.assert_array_equal(got, want)
    # Offering everything (twice: a round closed twice) leaves the three shortest, once each;
    # a different tour of a length already in the pool (the reversed tour) counts as the same.
    twin = (offers[0][0], offers[0][1][::-1].copy())
    for _ in range(2):
        assert store.offer_elite(job_id, [*offers, twin, *offers], FENCE, size=3) == 3
    pool = store.elite_tours(job_id)
    assert [p.tour_length(t) for t in pool] == lengths[:3]
    np.testing.assert_array_equal(pool[0], offers[0][1])  # the first of equal ones stays
    # The pool expires with the job's other keys, and a late merge cannot revive it.
    assert store.finish(job_id, JobStatus.DONE, FENCE) == "done"
    assert 0 < store.redis.ttl(store.keys.job_elite(job_id)) <= 3600
    assert store.offer_elite(job_id, offers, FENCE) == 0
    assert len(store.elite_tours(job_id)) == 3


def test_the_bound_cache_keeps_a_valid_bound_before_an_estimate_then_the_higher(store):
    def bound(value, proven):
        return {"value": value, "proven": proven, "iterations": 1, "elapsed_s": 0.1,
                "method": "test"}

    assert store.offer_bound("h", bound(90.0, False))
    assert store.offer_bound("h", bound(80.0, True))       # valid beats a higher estimate
    assert not store.offer_bound("h", bound(95.0, False))
    assert not store.offer_bound("h", bound(79.0, True))   # a lower bound of the same kind
    assert store.offer_bound("h", bound(85.0, True))
    assert store.get_bound("h")["value"] == 85.0 and store.get_bound("h")["proven"]
