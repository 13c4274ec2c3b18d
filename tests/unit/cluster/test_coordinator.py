"""The coordinator's decisions, turn by turn, with the Celery side replaced by a recorder.

Units are simulated by writing their records as a worker would; the merge is the real shared
``close_round``. Runs on fakeredis and the real Redis (fixture ``any_redis``).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import wait
from dataclasses import replace

import numpy as np
import pytest

import tsp_celery.cluster.coordinator as coordinator_module
from tests.unit.solver.test_merge import circle, reversed_at, swapped_at
from tsp_celery.cluster.client import ClusterClient
from tsp_celery.cluster.coordinator import ADMIT_AHEAD, Coordinator
from tsp_celery.cluster.driver import FAILED_ROUNDS_LIMIT, SHORT_ROUND_S
from tsp_celery.cluster.events import EventLog, EventType
from tsp_celery.cluster.lamport import LamportClock
from tsp_celery.cluster.round_close import close_round
from tsp_celery.cluster.workers import beat
from tsp_celery.errors import FencedWriteError
from tsp_celery.plan.planner import UNION_EVERY, UNION_MIN_TOURS
from tsp_celery.problem import Problem, load_problem
from tsp_celery.settings import Settings
from tsp_celery.solver.budget import max_matrix_nodes
from tsp_celery.solver.certify import bound_budget_s
from tsp_celery.solver.units import PIECE_KINDS

pytestmark = pytest.mark.timeout(30)


class Recorder:
    """Stands in for the Dispatcher: remembers what would have been sent."""

    def __init__(self) -> None:
        self.rounds: list[tuple] = []
        self.initial: list[tuple] = []
        self.bounds: list[tuple] = []

    def send_round(self, job_id, instance, plan, fence, lamport, units_deadline_at=None,
                   merge_task=True):
        self.rounds.append((job_id, plan, fence, lamport))
        return "group"

    def send_initial(self, job_id, instance, seed, lamport, partition_s=0.0, **parts):
        self.initial.append((job_id, instance))
        self.partition_s, self.parts = partition_s, parts
        return "initial"

    def send_bound(self, instance, budget_s, seed, lamport):
        self.bounds.append((instance, budget_s))
        return "bound"


def turn(coord: Coordinator, action=None) -> None:
    """One leader turn (``action``, default ``tick``), then the turns that follow up the round
    closes it started on the coordinator's merge thread: what one turn did before that thread."""
    action = action or coord.tick
    action()
    while closing := [d.closing for d in coord.drivers.values() if d.closing is not None]:
        wait(closing, timeout=10)
        action()


@pytest.fixture
def settings(keys) -> Settings:
    return Settings(prefix=keys.prefix, lease_ttl_ms=60_000, lease_renew_ms=1000)


@pytest.fixture
def client(any_redis, settings) -> ClusterClient:
    return ClusterClient(settings, redis=any_redis)


def coordinator(any_redis, settings, node="c1", **kw) -> Coordinator:
    coord = Coordinator(settings, node, dispatcher=Recorder(), redis=any_redis, **kw)
    assert coord.lease.try_acquire()
    coord._follow_lease()
    assert coord._leading
    return coord


def problem(n=30, seed=0) -> Problem:
    xy = np.random.default_rng(seed).integers(0, 1000, size=(n, 2)).astype(float)
    return Problem(name=f"u{n}", edge_weight_type="EUC_2D", coords=xy)


def finish_units(coord, client, job_id, plan, p, tours=None):
    """What workers would store for each unit of ``plan`` (default: the identity tour)."""
    for i, unit in enumerate(plan.units):
        tour = np.arange(p.n) if tours is None else tours[i]
        summary = {"unit_id": unit.unit_id, "kind": unit.kind, "length": p.tour_length(tour),
                   "base_length": None, "proven_optimal": False, "elapsed_s": 0.1,
                   "engine": "test", "ok": True, "lamport": 1}
        client.store.record_unit(job_id, plan.round_no, unit.unit_id, summary, tour)


def chord_merge(client, p, job_id, plan, fence, lamport):
    """What the merge task does: observe the message's stamp, close the round, log events."""
    clock = LamportClock("worker")
    clock.observe(lamport)
    return close_round(client.store, p, job_id, plan, fence, closer="chord",
                       events=EventLog(client.redis, client.keys), clock=clock)


def test_admits_plans_a_fair_round_and_follows_the_merge(any_redis, settings, client):
    beat(any_redis, client.keys, "w1", {"slots": 2}, ttl_s=30)
    coord = coordinator(any_redis, settings)
    p = problem()
    job_id = client.submit(p, {"time_s": 30, "seed": 3})
    turn(coord)
    assert client.status(job_id)["status"] == "running"
    (sent_job, plan, fence, lamport), = coord.dispatcher.rounds
    assert sent_job == job_id and fence == f"c1:{client.store.epoch()}:1" and plan.round_no == 1
    assert plan.kind == "island" and len(plan.units) == 2  # a lone job gets every slot
    assert client.status(job_id)["round"] == 1
    turn(coord)
    assert len(coord.dispatcher.rounds) == 1  # waits for the round: never two at once
    finish_units(coord, client, job_id, plan, p)
    outcome = chord_merge(client, p, job_id, plan, fence, lamport)
    assert outcome["received"] == ["r1-u0", "r1-u1"] and outcome["improved"]
    turn(coord)
    assert [r[1].round_no for r in coord.dispatcher.rounds] == [1, 2]
    st = client.status(job_id)
    assert st["best_length"] == p.tour_length(np.arange(p.n)) and st["round"] == 2
    kinds = [e.type for e in EventLog(any_redis, client.keys).read(job_id)]
    assert kinds == [EventType.SUBMITTED, EventType.ADMITTED, EventType.ROUND_PLANNED,
                     EventType.IMPROVED, EventType.ROUND_MERGED, EventType.ROUND_PLANNED]


def test_a_union_unit_joins_the_islands_once_the_elite_pool_has_filled(any_redis, settings,
                                                                      client):
    beat(any_redis, client.keys, "w1", {"slots": 2}, ttl_s=30)
    coord = coordinator(any_redis, settings)
    p = problem()
    merged = client.submit(p, {"time_s": 60, "seed": 3})
    rng = np.random.default_rng(1)
    kinds = []
    for _ in range(UNION_EVERY):
        turn(coord)
        _, plan, fence, lamport = coord.dispatcher.rounds[-1]
        kinds.append([u.kind for u in plan.units])
        finish_units(coord, client, merged, plan, p,
                     tours=[rng.permutation(p.n) for _ in plan.units])
        chord_merge(client, p, merged, plan, fence, lamport)
    assert client.store.elite_size(merged) >= UNION_MIN_TOURS
    # fresh runs fill the pool; the first round numbered for a union merges it
    assert kinds[:-1] == [["island", "island"]] * (UNION_EVERY - 1)
    assert kinds[-1] == ["union", "island"]


def test_two_jobs_share_the_slots_and_neither_waits_for_the_other(any_redis, settings, client):
    beat(any_redis, client.keys, "w1", {"slots": 2}, ttl_s=30)
    coord = coordinator(any_redis, settings)
    a = client.submit(problem(seed=1), {"time_s": 30})
    b = client.submit(problem(seed=2), {"time_s": 30})
    turn(coord)
    assert {r[0] for r in coord.dispatcher.rounds} == {a, b}
    assert all(len(r[1].units) == 1 for r in coord.dispatcher.rounds)
    # Job b's round is merged; a's is not: b moves on alone.
    plan_b = next(r[1] for r in coord.dispatcher.rounds if r[0] == b)
    finish_units(coord, client, b, plan_b, problem(seed=2))
    close_round(client.store, problem(seed=2), b, plan_b, coord.lease.fence, closer="chord")
    turn(coord)
    assert [r[0] for r in coord.dispatcher.rounds].count(b) == 2
    assert [r[0] for r in coord.dispatcher.rounds].count(a) == 1


def test_no_workers_means_jobs_stay_queued(any_redis, settings, client):
    coord = coordinator(any_redis, settings)
    job_id = client.submit(problem(), {"time_s": 5})
    turn(coord)
    assert client.status(job_id)["status"] == "queued" and coord.dispatcher.rounds == []
    assert client.missing_service().startswith("no worker")


def first_round(any_redis, settings, client):
    """A 30-node job with 30 s on two slots, its first round planned: (coord, p, job, plan)."""
    beat(any_redis, client.keys, "w1", {"slots": 2}, ttl_s=30)
    coord = coordinator(any_redis, settings)
    p = problem()
    job_id = client.submit(p, {"time_s": 30})
    turn(coord)
    return coord, p, job_id, coord.dispatcher.rounds[0][1]


def test_a_job_whose_units_only_fail_stops_with_their_error(any_redis, settings, client):
    """A corrupt stored instance fails every unit the same way: after FAILED_ROUNDS_LIMIT such
    rounds the job ends, failed, with the units' error, well before its 30 s budget."""
    coord, _, job_id, _ = first_round(any_redis, settings, client)
    error = "InstanceError: stored instance has an unknown layout (bad magic)"
    for round_no in range(1, FAILED_ROUNDS_LIMIT + 1):
        assert client.status(job_id)["status"] == "running"
        sent = coord.dispatcher.rounds[-1][1]
        assert sent.round_no == round_no
        for unit in sent.units:
            client.store.record_unit(job_id, round_no, unit.unit_id,
                                     {"unit_id": unit.unit_id, "ok": False, "error": error}, None)
        turn(coord)
    st = client.status(job_id)
    assert st["status"] == "failed", st
    assert f"every unit failed in {FAILED_ROUNDS_LIMIT} rounds in a row" in st["error"]
    assert error in st["error"]
    assert len(coord.dispatcher.rounds) == FAILED_ROUNDS_LIMIT


def test_round_closes_at_its_deadline_with_what_arrived(any_redis, settings, client):
    coord, p, job_id, plan = first_round(any_redis, settings, client)
    finish_units(coord, client, job_id, plan.__class__(1, plan.kind, plan.units[:1],
                                                        plan.deadline_s), p)
    coord.drivers[job_id].round.deadline_at = 0.0  # the deadline passes; one unit never came
    turn(coord)
    merged = client.store.round_merged(job_id, 1)
    assert merged["closer"] == "deadline" and merged["missing"] == ["r1-u1"]
    assert merged["received"] == ["r1-u0"] and client.status(job_id)["best_length"] is not None
    assert len(coord.dispatcher.rounds) == 2
    kinds = [e.type for e in EventLog(any_redis, client.keys).read(job_id)]
    assert EventType.UNIT_LOST in kinds


def test_a_slow_close_by_the_leader_does_not_hold_up_another_jobs_next_round(
        any_redis, settings, client, monkeypatch):
    beat(any_redis, client.keys, "w1", {"slots": 2}, ttl_s=30)
    coord = coordinator(any_redis, settings)
    a = client.submit(problem(seed=1), {"time_s": 30})
    b = client.submit(problem(seed=2), {"time_s": 30})
    turn(coord)
    plan_b = next(r[1] for r in coord.dispatcher.rounds if r[0] == b)
    release = threading.Event()
    real_merge = coordinator_module.close_round

    def slow_merge(*args, **kwargs):  # a wide round's merge, still running
        release.wait(10)
        return real_merge(*args, **kwargs)

    monkeypatch.setattr(coordinator_module, "close_round", slow_merge)
    coord.drivers[a].round.deadline_at = 0.0  # a's round is closed by the leader: slowly
    coord.tick()
    assert coord.drivers[a].closing is not None and not coord.drivers[a].closing.done()
    finish_units(coord, client, b, plan_b, problem(seed=2))
    close_round(client.store, problem(seed=2), b, plan_b, coord.lease.fence, closer="chord")
    coord.tick()  # b goes on while a's merge runs
    assert [r[0] for r in coord.dispatcher.rounds].count(b) == 2
    assert client.store.round_merged(a, 1) is None
    release.set()
    turn(coord)
    assert client.store.round_merged(a, 1)["closer"] == "deadline"
    assert [r[0] for r in coord.dispatcher.rounds].count(a) == 2


def test_a_close_that_fails_on_the_merge_thread_wakes_the_leader(any_redis, settings, client,
                                                                  monkeypatch):
    beat(any_redis, client.keys, "w1", {"slots": 2}, ttl_s=30)
    coord = coordinator(any_redis, settings)
    job = client.submit(problem(), {"time_s": 30})
    turn(coord)
    any_redis.delete(client.keys.wake())

    failed = threading.Event()

    def failing_merge(*args, **kwargs):
        failed.set()
        raise ConnectionError("Redis went away mid-merge")

    monkeypatch.setattr(coordinator_module, "close_round", failing_merge)
    coord.drivers[job].round.deadline_at = 0.0
    coord.tick()
    assert failed.wait(10)
    deadline = time.monotonic() + 5  # the callback runs on the merge thread, after the result
    while not any_redis.llen(client.keys.wake()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert any_redis.llen(client.keys.wake()) == 1


def test_cancel_stops_a_running_job_without_waiting_for_the_round(any_redis, settings, client):
    beat(any_redis, client.keys, "w1", {"slots": 1}, ttl_s=30)
    coord = coordinator(any_redis, settings)
    job_id = client.submit(problem(), {"time_s": 30})
    turn(coord)
    assert client.cancel(job_id) == "running"
    turn(coord)
    st = client.status(job_id)
    assert st["status"] == "cancelled" and st["job_id"] not in coord.drivers
    assert client.store.round_merged(job_id, 1)["closer"] == "cancel"
    assert len(coord.dispatcher.rounds) == 1


@pytest.mark.parametrize("params, reason", [
    ({"time_s": 30, "stall_rounds": 1}, "no improvement"),
    ({"time_s": 30, "target": 10**9}, "target reached"),
])
def test_stop_criteria_end_the_job_done(any_redis, settings, client, params, reason):
    beat(any_redis, client.keys, "w1", {"slots": 1}, ttl_s=30)
    coord = coordinator(any_redis, settings)
    p = problem()
    job_id = client.submit(p, params)
    for _round in (1, 2):
        turn(coord)
        if client.status(job_id)["status"] != "running":
            break
        plan = coord.dispatcher.rounds[-1][1]
        finish_units(coord, client, job_id, plan, p)
        close_round(client.store, p, job_id, plan, coord.lease.fence, closer="chord")
    turn(coord)
    assert client.status(job_id)["status"] == "done"
    done = [e for e in EventLog(any_redis, client.keys).read(job_id) if e.type == EventType.DONE]
    assert reason in done[0].data["reason"]
    res = client.result(job_id)
    assert res.length == p.tour_length(res.tour)


def test_a_job_whose_budget_ends_without_any_tour_fails(any_redis, settings, client):
    beat(any_redis, client.keys, "w1", {"slots": 1}, ttl_s=30)
    coord = coordinator(any_redis, settings)
    job_id = client.submit(problem(), {"time_s": 30})
    turn(coord)
    driver = coord.drivers[job_id]
    driver.admitted_at -= 60
    driver.round.deadline_at = 0.0
    turn(coord)
    st = client.status(job_id)
    assert st["status"] == "failed" and "no tour" in st["error"]


def test_a_deposed_leader_is_fenced_and_its_successor_resumes_the_round(any_redis, settings,
                                                                        client):
    beat(any_redis, client.keys, "w1", {"slots": 1}, ttl_s=30)
    old = coordinator(any_redis, settings, "c1")
    p = problem()
    job_id = client.submit(p, {"time_s": 30})
    turn(old)
    plan = old.dispatcher.rounds[0][1]
    # The unit is running on a live worker, so its round is alive and must be awaited.
    beat(any_redis, client.keys, "w1", {"slots": 1, "units": [{"job_id": job_id,
                                                               "unit_id": "r1-u0"}]}, ttl_s=30)
    any_redis.delete(client.keys.lease())  # c1's lease is lost (paused past its TTL)
    new = coordinator(any_redis, settings, "c2")
    old_fence = old.lease.fence
    assert new.lease.fence == f"c2:{client.store.epoch()}:2" and job_id in new.drivers
    assert new.drivers[job_id].round.plan == plan  # awaited, not re-planned
    # The old leader wakes up: its next control write is refused and it steps down.
    old.drivers[job_id].round.deadline_at = 0.0
    turn(old, old._leader_turn)
    assert not old._leading and old.drivers == {}
    with pytest.raises(FencedWriteError):
        close_round(client.store, p, job_id, plan, old_fence, closer="chord")
    turn(new)
    assert client.store.round_merged(job_id, 1) is None  # its unit is still running
    finish_units(new, client, job_id, plan, p)
    turn(new)  # all units are in, and c1's chord merge will be refused: closed at once
    merged = client.store.round_merged(job_id, 1)
    assert merged["received"] == ["r1-u0"] and merged["closer"] == "takeover"
    assert new.dispatcher.rounds[0][1].round_no == 2
    kinds = [e.type for e in EventLog(any_redis, client.keys).read(job_id)]
    assert EventType.LEADER_CHANGED in kinds


def test_the_first_tour_is_split_into_parts_spread_over_the_live_workers(any_redis, keys,
                                                                        client):
    settings = Settings(prefix=keys.prefix, lease_ttl_ms=60_000, lease_renew_ms=1000,
                        matrix_budget_mb=2)
    beat(any_redis, client.keys, "w1", {"slots": 2}, ttl_s=30)
    beat(any_redis, client.keys, "w2", {"slots": 1}, ttl_s=30)
    coord = coordinator(any_redis, settings)
    p = problem(n=800)
    client.submit(p, {"time_s": 30})
    turn(coord)
    turn(coord)
    sent = coord.dispatcher.parts
    assert sent["max_part_nodes"] == max_matrix_nodes(settings.matrix_budget_bytes) == 241
    assert sent["parts"] == 4 and sent["slots"] == 3


def test_large_instances_get_their_first_tour_from_a_worker(any_redis, keys, client):
    settings = Settings(prefix=keys.prefix, lease_ttl_ms=60_000, lease_renew_ms=1000,
                        matrix_budget_mb=1)
    beat(any_redis, client.keys, "w1", {"slots": 2}, ttl_s=30)
    coord = coordinator(any_redis, settings)
    p = problem(n=800)  # 800^2 * 4 bytes > 1 MB: decomposition rounds, which need a base tour
    job_id = client.submit(p, {"time_s": 30})
    turn(coord)
    turn(coord)
    assert coord.dispatcher.initial == [(job_id, p.content_hash())]  # asked once, not per turn
    assert 13 < coord.dispatcher.partition_s <= 15  # half the job's time for a partition tour
    assert coord.dispatcher.parts["parts"] == 0  # 1 MB fits no part worth solving: greedy
    assert coord.dispatcher.rounds == []
    client.store.commit_best(job_id, np.arange(p.n), p.tour_length(np.arange(p.n)), 0, 0.1,
                             False, "initial")
    turn(coord)
    plan = coord.dispatcher.rounds[0][1]
    assert plan.kind in PIECE_KINDS and np.array_equal(client.store.base_tour(job_id, 1),
                                                     np.arange(p.n))


def test_the_next_job_is_admitted_while_the_last_round_of_another_ends(any_redis, settings,
                                                                      client):
    beat(any_redis, client.keys, "w1", {"slots": 1}, ttl_s=30)
    coord = coordinator(any_redis, settings)
    # beyond SHORT_START_MAX_N: the first round is the whole budget
    first = client.submit(problem(n=1200, seed=1), {"time_s": 3})
    second = client.submit(problem(n=1200, seed=2), {"time_s": 3})
    turn(coord)
    assert client.status(second)["status"] == "queued"  # one slot: one job at a time
    turn(coord)
    assert client.status(second)["status"] == "queued"  # the first round has just begun
    # The first job's only round is about to end and no other round fits its budget: its slot
    # is as good as free, so the second job's first unit is queued for it now.
    driver = coord.drivers[first]
    driver.admitted_at -= 2.5
    driver.round.planned_at = time.time() - (driver.round.expected_end - driver.round.planned_at)
    driver.round.planned_at += 0.5  # ends in half a second
    assert driver.remaining_s(at=driver.round.expected_end) < 0.5
    turn(coord)
    assert client.status(second)["status"] == "running"
    assert client.store.round_merged(first, 1) is None
    assert [r[0] for r in coord.dispatcher.rounds] == [first, second]


def _island_round(any_redis, settings, client, params):
    """A running job on points on a circle, its first island round (one unit) planned."""
    beat(any_redis, client.keys, "w1", {"slots": 1}, ttl_s=30)
    coord = coordinator(any_redis, settings)
    p = circle()
    job_id = client.submit(p, {"time_s": 30, **params})
    turn(coord)
    (_, plan, fence, lamport), = coord.dispatcher.rounds
    assert plan.kind == "island"
    return coord, p, job_id, plan, fence, lamport


@pytest.mark.parametrize("merge", [True, False])
def test_island_rounds_merge_with_the_elite_pool_in_redis_unless_merge_is_off(
        any_redis, settings, client, merge):
    coord, p, job_id, plan, fence, lamport = _island_round(any_redis, settings, client,
                                                           {"merge": merge})
    optimum = np.arange(p.n)
    # The pool an earlier round left is right where this round's only run is wrong.
    pooled, run = swapped_at(optimum, 25), reversed_at(optimum, 3, 5)
    client.store.offer_elite(job_id, [(p.tour_length(pooled), pooled)], fence)
    finish_units(coord, client, job_id, plan, p, [run])
    assert chord_merge(client, p, job_id, plan, fence, lamport)["improved"]
    best, pool = client.store.best_tour(job_id), client.store.elite_tours(job_id)
    if merge:
        assert p.tour_length(best) == p.tour_length(optimum)  # neither the run nor the pool's
        assert [p.tour_length(t) for t in pool] == sorted(
            p.tour_length(t) for t in (optimum, pooled, run))
        np.testing.assert_array_equal(pool[1], pooled)
    else:  # the run as it is; the pool is neither read nor written
        np.testing.assert_array_equal(best, run)
        assert len(pool) == 1 and np.array_equal(pool[0], pooled)
    # A second close of the same round changes nothing.
    assert chord_merge(client, p, job_id, plan, fence, lamport) is None
    assert all(np.array_equal(a, b) for a, b in zip(client.store.elite_tours(job_id), pool,
                                                      strict=True))
    assert np.array_equal(client.store.best_tour(job_id), best)


def test_a_deposed_leaders_merge_commits_its_tour_but_leaves_the_pool_alone(any_redis, settings,
                                                                          client):
    coord, p, job_id, plan, fence, lamport = _island_round(any_redis, settings, client, {})
    run = reversed_at(np.arange(p.n), 3, 5)
    finish_units(coord, client, job_id, plan, p, [run])
    any_redis.set(client.keys.lease(), "c2:e1:2", px=60_000)  # c1 was replaced meanwhile
    with pytest.raises(FencedWriteError):
        chord_merge(client, p, job_id, plan, fence, lamport)
    assert client.status(job_id)["best_length"] == p.tour_length(run)  # the CAS is unfenced
    assert client.store.elite_tours(job_id) == []
    assert client.store.round_merged(job_id, plan.round_no) is None


def test_the_leader_closes_a_small_round_once_its_units_are_in(any_redis, settings, client):
    coord, p, job_id, plan = first_round(any_redis, settings, client)
    finish_units(coord, client, job_id, replace(plan, units=plan.units[:1]), p)
    coord.tick()  # one unit of two is in: the round stays open (its deadline is far)
    assert client.store.round_merged(job_id, 1) is None
    finish_units(coord, client, job_id, plan, p)
    turn(coord)  # all in: merged by the leader, no chord body needed, and the next round sent
    merged = client.store.round_merged(job_id, 1)
    assert merged["closer"] == "leader" and merged["received"] == ["r1-u0", "r1-u1"]
    assert [r[1].round_no for r in coord.dispatcher.rounds] == [1, 2]


def test_a_bound_job_gets_the_embedded_bound_budget(any_redis, settings, client, data_dir):
    beat(any_redis, client.keys, "w1", {"slots": 2}, ttl_s=30)
    coord = coordinator(any_redis, settings)
    berlin = load_problem(data_dir / "berlin52.tsp")
    client.submit(berlin, {"time_s": 60, "bound": True})
    client.submit(problem(n=900), {"time_s": 60, "bound": True})
    coord.tick()
    budgets = [b for _, b in coord.dispatcher.bounds]
    # berlin52 is integral and small (a proof is likely): nearly all the job's time, as
    # embedded; a 900-node job the default share, at most BOUND_BASE_S + BOUND_S_PER_NODE * n.
    assert budgets == [bound_budget_s(berlin, 60), bound_budget_s(problem(n=900), 60)]
    assert budgets[0] == pytest.approx(57.0) and budgets[1] == pytest.approx(3.9)


def test_jobs_in_short_rounds_leave_their_slot_to_the_next_job(any_redis, settings, client):
    beat(any_redis, client.keys, "w1", {"slots": 1}, ttl_s=30)
    coord = coordinator(any_redis, settings)
    jobs = [client.submit(problem(seed=s), {"time_s": 30}) for s in range(ADMIT_AHEAD + 1)]
    coord.tick()
    # A 30-node job's first round has units of milliseconds: its slot is as good as free.
    assert coord.dispatcher.rounds[0][1].budget_s <= SHORT_ROUND_S
    coord.tick()
    assert client.status(jobs[1])["status"] == "running"
    # ... but never more than ADMIT_AHEAD jobs per slot are active that way.
    for _ in range(ADMIT_AHEAD):
        coord.tick()
    assert len(coord.drivers) == ADMIT_AHEAD and client.status(jobs[-1])["status"] == "queued"
    assert all(client.status(j)["status"] == "running" for j in jobs[:-1])
