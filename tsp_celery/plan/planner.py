"""The round planner: from (size, worker slots, time left) to the next round of work units.

Pure functions, shared by both backends of the round loop. Which round when, and the
measurements behind every constant here: docs/performance.md, "Which round when".
"""

from __future__ import annotations

import hashlib
import math

from tsp_celery.plan.round_plan import PlanInput, RoundPlan
from tsp_celery.solver import (
    MAX_EXACT_NODES,
    PIECE_KINDS,
    RECOMMENDED_SECONDS_PER_NODE,
    RECOMMENDED_SEGMENT_SIZE,
    UnitSpec,
    fits_matrix_budget,
    round_offset,
    segments,
)

# Held–Karp's limit, from the solver that runs it.
EXACT_MAX_N = MAX_EXACT_NODES
EXACT_BUDGET_S = 30.0
# Shortest unit worth dispatching: fast-tsp needs a few hundred ms to set up candidates.
MIN_UNIT_S = 0.5
# Island slice = BASE + PER_NODE * n + PER_NODE2 * n²: without a warm start, one long run per
# core beats several short ones once n is in the thousands.
ISLAND_BASE_S = 0.5
ISLAND_S_PER_NODE = 0.002
ISLAND_S_PER_NODE2 = 3.5e-6
# Short first rounds: up to SHORT_START_MAX_N nodes an island slice is at most SHORT_START_BASE_S
# + SHORT_START_S_PER_NODE * n in the job's first round, doubled every round after, so a job that
# stops at a target or a proof ends in milliseconds.
SHORT_START_MAX_N = 500
SHORT_START_BASE_S = 0.005
SHORT_START_S_PER_NODE = 1e-4
# Multi-thread islands: from this n on, one fast-tsp run with all threads beats single-thread
# islands; such a run stalls in its basin after 10-20 s, so the rounds are restarts of
# MULTI_S_PER_SQRT_NODE * sqrt(n) seconds merged with the elite pool.
MULTI_THREAD_MIN_N = 3000
MULTI_S_PER_SQRT_NODE = 0.2
# Restarts pay only when a job's budget holds at least this many of them; a job with less runs
# one restart for its whole budget.
MULTI_MIN_RESTARTS = 3
# A multi-thread round is one unit merged with the pool by partition crossover, far cheaper
# than usable_s's reserve: it keeps back MULTI_RESERVE_S + MULTI_MERGE_S_PER_NODE * n.
MULTI_RESERVE_S = 0.1
MULTI_MERGE_S_PER_NODE = 2e-5
# With merging on, a multi-thread job ends with a round of single-thread union units (one per
# slot, windows shifted by their seeds) over the restarts' pool, for this many seconds per
# sqrt(n).
MULTI_UNION_S_PER_SQRT_NODE = 0.03
# Union units (solver.union) need a pool of at least UNION_MIN_TOURS distinct tours, and find
# more the more tours it holds: islands fill it between union rounds (every UNION_EVERY-th), the
# last round merges it in every unit, and with a pool island slices are at most
# UNION_ISLAND_S_PER_SQRT_NODE * sqrt(n) seconds (several runs feed a union better than one).
UNION_MIN_TOURS = 2
UNION_EVERY = 3
UNION_ISLAND_S_PER_SQRT_NODE = 0.15
# Segments: size and seconds per node as the solver measured them on pla33810 (most gain per
# second); many short rounds beat a few long ones (each round moves the cut points), so a
# segment's slice shrinks until at least SEGMENT_MIN_ROUNDS rounds fit the budget.
SEGMENT_TARGET_NODES = RECOMMENDED_SEGMENT_SIZE
SEGMENT_S_PER_NODE = RECOMMENDED_SECONDS_PER_NODE
SEGMENT_MIN_NODES = 8
SEGMENT_MIN_ROUNDS = 6
SEGMENT_MIN_UNIT_S = 0.2
# The first tour of a job beyond the matrix budget (a spatial partition solved part by part,
# see solver.partition) may take this share of the job's time.
INITIAL_PARTITION_SHARE = 0.5
# Splicing a round's pieces back costs the coordinator about this much per node (pla33810: ~1 s).
PIECE_APPLY_S_PER_NODE = 3e-5


def plan_round(inp: PlanInput) -> RoundPlan:
    """Plan round ``inp.round_no``: exact, island or segment, depending on n and the budget."""
    if inp.n <= EXACT_MAX_N:
        return _exact_round(inp)
    if _multi_thread(inp):
        return _multi_thread_island(inp)
    if fits_matrix_budget(inp.n, inp.matrix_budget_bytes):
        return _island_round(inp)
    if not inp.has_tour:
        raise ValueError(
            f"Expected a base tour for n = {inp.n} (beyond the matrix budget): "
            "build one with solver.units.initial_tour first."
        )
    return _piece_round(inp)


def unit_seed(job_seed: int, round_no: int, index: int) -> int:
    """A unit's seed: a stable hash of (job seed, round, unit index), the same on every node."""
    digest = hashlib.blake2b(f"{job_seed}:{round_no}:{index}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


def usable_s(remaining_s: float) -> float:
    """Time the units of a round may use: the rest goes to dispatch and merging."""
    reserve = min(2.0, 0.2 + 0.05 * max(remaining_s, 0.0))
    return max(remaining_s - reserve, MIN_UNIT_S)


def initial_partition_s(remaining_s: float) -> float:
    """Seconds the first tour of a job beyond the matrix budget may spend on its partition."""
    return INITIAL_PARTITION_SHARE * max(remaining_s, 0.0)


def deadline_s(wall_s: float) -> float:
    """How long to wait for a round whose units need ``wall_s`` of wall time.

    Generous: on a loaded machine fast-tsp's set-up can overrun its slice, and a unit given up
    on is work thrown away; the deadline is there for units that will never come back.
    """
    return wall_s + 2.0 + 0.25 * wall_s


def island_slice_s(n: int, remaining_s: float, last_improved: bool = True,
                   threads: int = 1, pooled: bool = False, round_no: int | None = None) -> float:
    """Wall seconds for each island unit: grows with n, doubled after a round without gain;
    shorter with an elite pool (``pooled``), which union units merge, and in the first rounds
    (``round_no``: 0 and 1 are the first) of a small instance (see SHORT_START_MAX_N)."""
    usable = _multi_usable_s(n, remaining_s) if threads > 1 else usable_s(remaining_s)
    want = _island_want(n, threads, pooled)
    floor = MIN_UNIT_S
    if round_no is not None and threads == 1 and n <= SHORT_START_MAX_N:
        short = (SHORT_START_BASE_S + SHORT_START_S_PER_NODE * n) * 2.0 ** min(
            max(round_no - 1, 0), 30)
        want, floor = min(want, short), min(short, MIN_UNIT_S)
    if not last_improved:
        want *= 2.0
    if usable - want < 0.5 * want:
        return usable
    return max(want, floor)


def _multi_usable_s(n: int, remaining_s: float) -> float:
    """Time a multi-thread round may use: one unit, one cheap merge (see MULTI_RESERVE_S)."""
    return max(usable_s(remaining_s), remaining_s - MULTI_RESERVE_S - MULTI_MERGE_S_PER_NODE * n)


def _island_want(n: int, threads: int = 1, pooled: bool = False) -> float:
    if threads > 1:
        return MULTI_S_PER_SQRT_NODE * math.sqrt(n)
    want = ISLAND_BASE_S + ISLAND_S_PER_NODE * n + ISLAND_S_PER_NODE2 * n * n
    if pooled:
        return min(want, UNION_ISLAND_S_PER_SQRT_NODE * math.sqrt(n))
    return want


def worth_a_round(inp: PlanInput) -> bool:
    """False when so little time is left that the next round cannot find anything.

    An island run needs a quarter of its usual slice to get past fast-tsp's set-up, a closing
    union round of a multi-thread job a quarter of its time; a segment or exact unit needs
    MIN_UNIT_S. Without any tour yet, any round is worth it (the cluster asks before its first
    round: a job must not end with nothing when a slice shorter than usual fits).
    """
    n, need = inp.n, MIN_UNIT_S
    if not inp.has_tour:
        return inp.remaining_s >= need
    if _multi_thread(inp) and inp.pooled and inp.pool_size >= UNION_MIN_TOURS:
        need = max(need, 0.25 * multi_union_s(n))  # a closing union round
    elif n > EXACT_MAX_N and fits_matrix_budget(n, inp.matrix_budget_bytes):
        # a quarter of the slice the island round would get (shorter with a pool)
        need = max(need, 0.25 * _island_want(n, inp.share if _multi_thread(inp) else 1,
                                             inp.pooled))
    return inp.remaining_s >= need


def _multi_thread(inp: PlanInput) -> bool:
    """Whether this job runs multi-thread islands (see module doc)."""
    return inp.threads_per_unit_allowed and multi_thread_job(inp.n, inp.share,
                                                              inp.matrix_budget_bytes)


def multi_thread_job(n: int, share: int, matrix_budget_bytes: int) -> bool:
    """Whether a job whose units may take several threads runs multi-thread islands: its
    restarts then share one whole-instance matrix (``solver.matrix.whole_matrix``)."""
    return share > 1 and n >= MULTI_THREAD_MIN_N and fits_matrix_budget(n, matrix_budget_bytes)


def segment_size(n: int, matrix_budget_bytes: int) -> int:
    """Nodes per segment: the target size, smaller when its matrix (plus the dummy) won't fit."""
    lo, hi = SEGMENT_MIN_NODES, min(SEGMENT_TARGET_NODES, n)
    if hi <= lo or not fits_matrix_budget(lo + 1, matrix_budget_bytes):
        return max(3, min(lo, n))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits_matrix_budget(mid + 1, matrix_budget_bytes):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _exact_round(inp: PlanInput) -> RoundPlan:
    budget = min(usable_s(inp.remaining_s), EXACT_BUDGET_S)
    unit = UnitSpec(f"r{inp.round_no}-u0", "exact", unit_seed(inp.seed, inp.round_no, 0), budget)
    return RoundPlan(inp.round_no, "exact", (unit,), deadline_s(budget))


def _union_kinds(inp: PlanInput, units: int, last: bool) -> list[str]:
    """The kinds of a single-thread island round's units once the pool is big enough: in the
    job's last round every unit merges the pool (an island run there could not be merged into
    anything; after such a round that found nothing, islands use what time is left), and before
    it the first unit of every UNION_EVERY-th round does, so the pool takes in new runs in
    between and keeps what it found."""
    kinds = ["island"] * units
    if inp.pool_size < UNION_MIN_TOURS:
        return kinds
    if last:
        # a union round that found nothing leaves the pool as it was: run islands after it
        exhausted = inp.last_kind == "union" and not inp.last_improved
        return kinds if exhausted else ["union"] * units
    if inp.round_no % UNION_EVERY == 0:
        kinds[0] = "union"
    return kinds


def _whole_round(inp: PlanInput, budget: float, units: int, threads: int,
                 last: bool = False) -> RoundPlan:
    kinds = _union_kinds(inp, units, last) if threads == 1 else ["island"] * units
    specs = tuple(
        UnitSpec(f"r{inp.round_no}-u{i}", kind, unit_seed(inp.seed, inp.round_no, i), budget,
                 threads=threads)
        for i, kind in enumerate(kinds)
    )
    kind = "union" if set(kinds) == {"union"} else "island"
    return RoundPlan(inp.round_no, kind, specs, deadline_s(budget))


def _island_round(inp: PlanInput) -> RoundPlan:
    budget = island_slice_s(inp.n, inp.remaining_s, inp.last_improved, pooled=inp.pooled,
                            round_no=inp.round_no)
    last = budget >= usable_s(inp.remaining_s)
    return _whole_round(inp, budget, inp.share, 1, last)


def multi_union_s(n: int) -> float:
    """Seconds a multi-thread job keeps for its closing union round."""
    return MULTI_UNION_S_PER_SQRT_NODE * math.sqrt(n)


def _multi_thread_island(inp: PlanInput) -> RoundPlan:
    """A restart with all the job's threads; with merging on, the job's last seconds
    (``multi_union_s``) go to a round of single-thread union units over the restarts' pool."""
    # kept back once this restart will leave the pool enough tours to merge
    closing = multi_union_s(inp.n) if inp.pooled and inp.pool_size + 1 >= UNION_MIN_TOURS else 0.0
    restart_left = inp.remaining_s - closing
    if closing and restart_left < 0.25 * _island_want(inp.n, inp.share):
        if inp.pool_size >= UNION_MIN_TOURS:
            return _whole_round(inp, usable_s(inp.remaining_s), inp.share, 1, last=True)
        restart_left = inp.remaining_s  # nothing to merge yet: the rest is one more restart
    if inp.round_no == 0 and inp.remaining_s < MULTI_MIN_RESTARTS * _island_want(inp.n, inp.share):
        budget = _multi_usable_s(inp.n, inp.remaining_s)  # one run for the whole budget
    else:
        budget = island_slice_s(inp.n, restart_left, threads=inp.share)
    return _whole_round(inp, budget, 1, inp.share)


def _piece_round(inp: PlanInput) -> RoundPlan:
    n, share = inp.n, inp.share
    size = segment_size(n, inp.matrix_budget_bytes)
    cuts = segments(n, size, inp.segment_offset + round_offset(inp.round_no, size))
    waves = math.ceil(len(cuts) / share)
    usable = max(usable_s(inp.remaining_s) - PIECE_APPLY_S_PER_NODE * n, SEGMENT_MIN_UNIT_S)
    budget = min(SEGMENT_S_PER_NODE * size, usable / (waves * SEGMENT_MIN_ROUNDS))
    budget = max(budget, SEGMENT_MIN_UNIT_S)
    # Too little time for the whole tour: plan the waves that fit; the next round's shifted cut
    # points reach the rest.
    waves_fit = max(1, min(waves, int(usable // budget)))
    kind = PIECE_KINDS[inp.round_no % len(PIECE_KINDS)]
    units = tuple(
        UnitSpec(f"r{inp.round_no}-u{i}", kind, unit_seed(inp.seed, inp.round_no, i),
                 budget, start=start, size=length)
        for i, (start, length) in enumerate(cuts[: waves_fit * share])
    )
    wall = math.ceil(len(units) / share) * budget
    return RoundPlan(inp.round_no, kind, units, deadline_s(wall))
