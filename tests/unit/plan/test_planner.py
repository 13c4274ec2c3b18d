"""The planner's choices: exact for tiny n, islands when the matrix fits, segments beyond."""

from __future__ import annotations

import json
from itertools import pairwise

import pytest

from tsp_celery.plan import PlanInput, RoundPlan, plan_round
from tsp_celery.plan.planner import (
    MULTI_MIN_RESTARTS,
    MULTI_RESERVE_S,
    MULTI_S_PER_SQRT_NODE,
    SHORT_START_BASE_S,
    SHORT_START_MAX_N,
    SHORT_START_S_PER_NODE,
    UNION_EVERY,
    UNION_ISLAND_S_PER_SQRT_NODE,
    UNION_MIN_TOURS,
    island_slice_s,
    multi_thread_job,
    multi_union_s,
    usable_s,
    worth_a_round,
)
from tsp_celery.solver.budget import matrix_bytes
from tsp_celery.solver.units import fits_matrix_budget

GIB = 1 << 30


def plan(**kw):
    base = dict(n=1000, slots=2, remaining_s=10.0, round_no=0, seed=7)
    base.update(kw)
    return plan_round(PlanInput(**base))


@pytest.mark.parametrize("n", [3, 5, 14, 16])
def test_tiny_instances_get_one_exact_unit(n):
    p = plan(n=n, slots=4)
    assert p.kind == "exact"
    assert [u.kind for u in p.units] == ["exact"]
    assert 0 < p.units[0].budget_s <= 10.0
    assert p.deadline_s > p.units[0].budget_s


def test_medium_instances_get_one_island_per_slot_with_distinct_seeds():
    p = plan(n=17, slots=3)
    assert p.kind == "island"
    assert len(p.units) == 3
    assert {u.kind for u in p.units} == {"island"}
    assert len({u.seed for u in p.units}) == 3
    assert len({u.unit_id for u in p.units}) == 3


def test_fair_share_over_active_jobs():
    assert len(plan(slots=8, active_jobs=2).units) == 4
    assert len(plan(slots=8, active_jobs=3).units) == 2
    assert len(plan(slots=2, active_jobs=5).units) == 1


def test_island_units_fit_the_remaining_time():
    for remaining in (1.0, 3.0, 10.0, 60.0, 600.0):
        for n in (20, 200, 2000, 5000):
            p = plan(n=n, remaining_s=remaining)
            assert p.units[0].budget_s <= max(remaining, 0.5)
            assert p.deadline_s >= p.units[0].budget_s


def test_island_slices_grow_with_n_and_small_n_gets_several_rounds():
    small = plan(n=52, remaining_s=10.0).units[0].budget_s
    large = plan(n=1500, remaining_s=60.0).units[0].budget_s
    assert small < large
    assert small <= 10.0 / 3  # tiny instances converge fast: several rounds fit in 10 s


def test_no_runt_round_at_the_end():
    # When what would be left after this slice is too short to be useful, the slice takes it.
    p = plan(n=1500, remaining_s=10.0)
    assert p.units[0].budget_s >= 8.0


def test_stagnation_lengthens_island_slices():
    fresh = plan(n=300, remaining_s=60.0).units[0].budget_s
    stale = plan(n=300, remaining_s=60.0, last_improved=False).units[0].budget_s
    assert stale > fresh


def test_seeds_are_deterministic_and_differ_between_rounds_and_jobs():
    a = plan(seed=1, round_no=3)
    assert a == plan(seed=1, round_no=3)
    assert {u.seed for u in a.units}.isdisjoint({u.seed for u in plan(seed=1, round_no=4).units})
    assert {u.seed for u in a.units}.isdisjoint({u.seed for u in plan(seed=2, round_no=3).units})


def test_large_instances_need_a_tour_first():
    with pytest.raises(ValueError, match="initial_tour"):
        plan(n=50_000, matrix_budget_bytes=GIB)


def _segments(p, n):
    covered = []
    for u in p.units:
        covered += [(u.start + k) % n for k in range(u.size)]
    return covered


def test_segment_rounds_cover_the_tour_with_disjoint_fitting_segments():
    n, budget = 50_000, GIB
    p = plan(n=n, has_tour=True, matrix_budget_bytes=budget, remaining_s=600.0, slots=2)
    assert p.kind == "segment"
    assert len(p.units) > 2  # more segments than slots: they queue
    covered = _segments(p, n)
    assert len(covered) == len(set(covered)) == n
    assert all(fits_matrix_budget(u.size + 1, budget) for u in p.units)
    assert len({u.seed for u in p.units}) == len(p.units)


def test_tiny_matrix_budget_makes_small_segments():
    budget = matrix_bytes(300)  # room for only a few hundred nodes per matrix
    assert not fits_matrix_budget(2000, budget)
    p = plan(n=2000, has_tour=True, matrix_budget_bytes=budget, remaining_s=30.0)
    assert p.kind == "segment"
    assert all(fits_matrix_budget(u.size + 1, budget) for u in p.units)
    assert sorted(_segments(p, 2000)) == list(range(2000))


def test_segment_cut_points_shift_between_rounds():
    kw = dict(n=50_000, has_tour=True, matrix_budget_bytes=GIB, remaining_s=600.0)
    starts = [{u.start for u in plan(round_no=r, **kw).units} for r in range(3)]
    assert starts[0] != starts[1] != starts[2]
    offset = plan(round_no=0, segment_offset=123, **kw)
    assert offset.units[0].start == 123


def test_short_budget_plans_only_the_segments_that_fit():
    n = 50_000
    p = plan(n=n, has_tour=True, matrix_budget_bytes=GIB, remaining_s=3.0, slots=2)
    waves = -(-len(p.units) // 2)
    assert waves * p.units[0].budget_s <= 3.0
    assert p.deadline_s >= waves * p.units[0].budget_s


def test_round_plan_json_round_trip():
    for p in (plan(n=10), plan(n=500, slots=3),
              plan(n=50_000, has_tour=True, matrix_budget_bytes=GIB, round_no=2)):
        back = RoundPlan.from_dict(json.loads(json.dumps(p.to_dict())))
        assert back == p


@pytest.mark.parametrize("bad", [dict(n=2), dict(slots=0), dict(active_jobs=0), dict(round_no=-1),
                                 dict(pool_size=-1, pooled=True), dict(pool_size=3)])
def test_bad_input_is_refused(bad):
    with pytest.raises(ValueError, match="Expected"):
        plan(**bad)


def test_another_round_is_worth_it_only_with_time_for_the_search():
    def worth(n, remaining_s, has_tour=True, pooled=False):
        return worth_a_round(PlanInput(n=n, slots=2, remaining_s=remaining_s, round_no=0, seed=0,
                                       matrix_budget_bytes=GIB, has_tour=has_tour,
                                       pooled=pooled))

    assert worth(52, 0.6)
    assert not worth(52, 0.3)
    assert not worth(1577, 1.0)  # fast-tsp cannot even set up 1577 nodes in 1 s
    assert worth(1577, 4.0)
    # without any tour, a round shorter than the usual slice still beats ending with nothing
    assert worth(1577, 1.0, has_tour=False) and worth(11849, 60.0, has_tour=False)
    assert not worth(11849, 60.0) and not worth(52, 0.3, has_tour=False)
    # with a pool the island slices are short (then union rounds): a quarter of one is enough
    slice_s = island_slice_s(11849, 600.0, pooled=True)
    assert worth(11849, 0.3 * slice_s, pooled=True) and not worth(11849, 0.2 * slice_s,
                                                                   pooled=True)


def test_decomposition_alternates_segment_and_region_rounds():
    kw = dict(n=50_000, has_tour=True, matrix_budget_bytes=GIB, remaining_s=600.0)
    kinds = [plan(round_no=r, **kw).kind for r in range(4)]
    assert kinds == ["segment", "region", "segment", "region"]
    assert all(u.kind == kinds[1] for u in plan(round_no=1, **kw).units)


def test_multi_thread_island_only_for_a_lone_large_job_when_allowed():
    kw = dict(n=5000, slots=2, remaining_s=60.0, matrix_budget_bytes=GIB)
    multi = plan(threads_per_unit_allowed=True, **kw)
    assert [(u.kind, u.threads) for u in multi.units] == [("island", 2)]
    assert multi.units[0].budget_s == pytest.approx(MULTI_S_PER_SQRT_NODE * 5000**0.5)
    # the cluster's default: one single-thread unit per worker slot
    assert [(u.kind, u.threads) for u in plan(**kw).units] == [("island", 1)] * 2
    # shared slots, or a small instance: single-thread islands as before
    shared = plan(threads_per_unit_allowed=True, active_jobs=2, **{**kw, "slots": 2})
    assert [u.threads for u in shared.units] == [1]
    small = plan(threads_per_unit_allowed=True, **{**kw, "n": 1000})
    assert [u.threads for u in small.units] == [1, 1]


def test_multi_thread_islands_restart_until_the_budget_is_spent():
    kw = dict(n=5000, slots=2, matrix_budget_bytes=GIB, threads_per_unit_allowed=True,
              has_tour=True)
    slice_s = MULTI_S_PER_SQRT_NODE * 5000**0.5
    later = plan(round_no=1, remaining_s=40.0, **kw)
    assert [(u.kind, u.threads) for u in later.units] == [("island", 2)]
    assert later.units[0].budget_s == pytest.approx(slice_s)
    assert len({plan(round_no=r, remaining_s=40.0, **kw).units[0].seed for r in range(3)}) == 3
    # no gain last round: another restart as long (a longer run would not do better); a
    # remainder shorter than 1.5 slices: all of it
    assert plan(round_no=1, remaining_s=80.0, last_improved=False,
                **kw).units[0].budget_s == pytest.approx(slice_s)
    assert plan(round_no=1, remaining_s=1.4 * slice_s,
                **kw).units[0].budget_s > 1.2 * slice_s
    # worth a round while a quarter slice is left
    assert worth_a_round(PlanInput(round_no=1, seed=0, remaining_s=0.3 * slice_s, **kw))
    assert not worth_a_round(PlanInput(round_no=1, seed=0, remaining_s=0.2 * slice_s, **kw))


def test_a_pool_turns_one_unit_of_every_few_island_rounds_into_a_union_unit():
    kw = dict(n=4461, slots=3, remaining_s=60.0, matrix_budget_bytes=GIB, pooled=True)
    union_round = UNION_EVERY
    first = plan(pool_size=0, round_no=union_round, **kw)
    assert [u.kind for u in first.units] == ["island"] * 3
    small_pool = plan(pool_size=UNION_MIN_TOURS - 1, round_no=union_round, **kw)
    assert [u.kind for u in small_pool.units] == ["island"] * 3
    later = plan(pool_size=UNION_MIN_TOURS, round_no=union_round, **kw)
    assert later.kind == "island"  # a round of whole tours, merged with the pool
    assert [u.kind for u in later.units] == ["union", "island", "island"]
    assert len({u.seed for u in later.units}) == 3
    assert {u.budget_s for u in later.units} == {later.budget_s}
    # between union rounds the pool takes in fresh runs
    between = plan(pool_size=UNION_MIN_TOURS, round_no=union_round + 1, **kw)
    assert [u.kind for u in between.units] == ["island"] * 3
    # merging off: no pool, no union units
    assert {u.kind for u in plan(**{**kw, "pooled": False}).units} == {"island"}


def test_the_last_round_merges_the_pool_in_every_unit():
    kw = dict(n=4461, slots=2, matrix_budget_bytes=GIB, pooled=True, round_no=UNION_EVERY + 1)
    slice_s = island_slice_s(4461, 600.0, pooled=True)
    # less than one and a half slices left: this round takes the rest of the job
    last = plan(pool_size=UNION_MIN_TOURS, remaining_s=1.2 * slice_s, **kw)
    assert last.kind == "union"
    assert [u.kind for u in last.units] == ["union", "union"]
    assert len({u.seed for u in last.units}) == 2
    # not with a pool too small to merge, nor with time for more rounds
    assert {u.kind for u in plan(pool_size=1, remaining_s=1.2 * slice_s, **kw).units} == {
        "island"}
    assert {u.kind for u in plan(pool_size=UNION_MIN_TOURS, remaining_s=3 * slice_s,
                                 **kw).units} == {"island"}
    # a last union round that found nothing leaves the pool as it was: islands use the rest
    after = dict(pool_size=UNION_MIN_TOURS, remaining_s=0.8 * slice_s, last_kind="union", **kw)
    assert {u.kind for u in plan(last_improved=False, **after).units} == {"island"}
    assert {u.kind for u in plan(last_improved=True, **after).units} == {"union"}


def test_one_slot_merges_the_pool_every_few_rounds():
    kw = dict(n=2000, slots=1, remaining_s=120.0, pooled=True, pool_size=UNION_MIN_TOURS)
    rounds = [plan(round_no=r, **kw) for r in range(1, 2 * UNION_EVERY + 1)]
    assert [p.kind for p in rounds] == (["island"] * (UNION_EVERY - 1) + ["union"]) * 2


def test_multi_thread_restarts_stay_fresh_runs_with_a_pool():
    kw = dict(n=5000, slots=2, remaining_s=60.0, matrix_budget_bytes=GIB,
              threads_per_unit_allowed=True, pooled=True, pool_size=UNION_MIN_TOURS)
    assert [(u.kind, u.threads) for u in plan(round_no=1, **kw).units] == [("island", 2)]


def test_a_multi_thread_job_closes_with_union_units_over_its_restarts():
    n = 14_000
    kw = dict(n=n, slots=2, matrix_budget_bytes=GIB, threads_per_unit_allowed=True, pooled=True)
    closing = multi_union_s(n)
    # the restart that fills the pool leaves the closing seconds free
    second = plan(round_no=1, pool_size=1, remaining_s=35.0, **kw)
    assert [(u.kind, u.threads) for u in second.units] == [("island", 2)]
    assert second.units[0].budget_s <= 35.0 - closing
    # then one single-thread union unit per slot, distinct seeds, for what is left
    last = plan(round_no=2, pool_size=2, remaining_s=closing + 0.5, **kw)
    assert last.kind == "union"
    assert [(u.kind, u.threads) for u in last.units] == [("union", 1)] * 2
    assert len({u.seed for u in last.units}) == 2
    assert last.units[0].budget_s <= closing + 0.5
    # the first restart, with nothing to merge after it, is not shortened for a union
    assert plan(round_no=0, pool_size=0, remaining_s=20.0, **kw).units[0].budget_s > 20.0 - closing
    # merging off: restarts to the end
    off = plan(round_no=2, remaining_s=closing + 0.5, **{**kw, "pooled": False})
    assert [(u.kind, u.threads) for u in off.units] == [("island", 2)]


def test_a_pool_keeps_island_slices_short_enough_to_fill_it():
    for n in (3038, 4461):
        plain = island_slice_s(n, 600.0)
        pooled = island_slice_s(n, 600.0, pooled=True)
        assert pooled == pytest.approx(UNION_ISLAND_S_PER_SQRT_NODE * n**0.5)
        assert pooled < plain
    # small instances keep their own (shorter) slices
    assert island_slice_s(200, 600.0, pooled=True) == island_slice_s(200, 600.0)


def test_small_instances_start_with_short_slices_doubling_up_to_the_full_one():
    full = island_slice_s(52, 60.0)
    slices = [plan(n=52, remaining_s=60.0, round_no=r).units[0].budget_s for r in range(1, 10)]
    assert slices[0] == pytest.approx(SHORT_START_BASE_S + SHORT_START_S_PER_NODE * 52)
    assert slices[0] < 0.02 < full  # milliseconds, where a whole slice is 0.6 s
    assert all(b == pytest.approx(min(2 * a, full)) for a, b in pairwise(slices))
    assert slices[-1] == full
    # beyond SHORT_START_MAX_N the first round gets the whole slice
    n = SHORT_START_MAX_N + 500
    assert plan(n=n, remaining_s=60.0, round_no=1).units[0].budget_s == island_slice_s(n, 60.0)


def test_multi_thread_jobs_are_lone_large_jobs_whose_matrix_fits():
    assert multi_thread_job(5000, 2, GIB)
    assert not multi_thread_job(5000, 1, GIB)  # one slot: nothing to share
    assert not multi_thread_job(1000, 2, GIB)  # small: single-thread islands
    assert not multi_thread_job(50_000, 2, GIB)  # beyond the matrix budget: decomposition


def test_a_last_multi_thread_round_keeps_back_only_what_its_merge_needs():
    kw = dict(n=6000, slots=2, matrix_budget_bytes=GIB, threads_per_unit_allowed=True)
    for remaining in (10.0, 18.0):  # less than one and a half restarts: the last round
        unit = plan(remaining_s=remaining, **kw).units[0]
        assert usable_s(remaining) < unit.budget_s < remaining - MULTI_RESERVE_S
    # single-thread islands keep the reserve they had
    assert plan(remaining_s=10.0, **{**kw, "n": 2000}).units[0].budget_s == usable_s(10.0)


def test_a_budget_too_short_for_several_restarts_is_one_run():
    kw = dict(slots=2, matrix_budget_bytes=GIB, threads_per_unit_allowed=True, pooled=True)
    for n in (6000, 15_000):
        restart = MULTI_S_PER_SQRT_NODE * n**0.5
        short = plan(n=n, remaining_s=(MULTI_MIN_RESTARTS - 0.5) * restart, **kw).units
        assert [(u.kind, u.threads) for u in short] == [("island", 2)]
        assert short[0].budget_s > (MULTI_MIN_RESTARTS - 1) * restart  # all of it, one run
        long = plan(n=n, remaining_s=(MULTI_MIN_RESTARTS + 0.5) * restart, **kw).units
        assert long[0].budget_s == pytest.approx(restart)  # restarts
