"""Union merging: the engine re-solves the problem restricted to the union of a pool's tours.

Partition crossover (``merge``) only swaps components in which two tours pair their portals
the same way; good fast-tsp tours differ globally, so it rarely finds more than a few units
(fnl4461, twenty 5 s tours: pairs gain 1-3 units). The classic remedy (tour merging, Cook &
Seymour 2003) looks for the best tour in the *union graph* of several tours. Here the engine
does that search:

- edges every tour shares are fixed, and each run of fixed edges is contracted to its two end
  nodes joined by a *forced* edge (fnl4461, four tours: 4,461 nodes become about 1,500);
- the reduced matrix costs a forced edge 0, an edge of some tour its length plus ``FORCED``,
  and any other edge its length plus ``FORCED`` plus ``OUTSIDE``, so the engine keeps the
  forced edges and stays in the union graph unless leaving it pays;
- the engine's tour is expanded back through the contracted runs.

Measured (fnl4461, one thread): the four best of twenty 5 s tours (the best 0.040 % over the
optimum) merged in 3-10 s to 0.011-0.035 % in 17 of 19 tries, where GPX of all twenty gave
the best parent. It is a search, not an exact union-graph solve: it needs time (a few seconds
per thousand reduced nodes) and may find nothing, and a unit keeps the best parent then.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from tsp_celery.problem import Problem
from tsp_celery.problem.distance import FLOAT_EUCLIDEAN
from tsp_celery.solver.engine import Engine, engine_tour, get_engine
from tsp_celery.solver.matrix import (
    UINT16_MAX,
    engine_block,
    row_blocks,
    scale_for,
    zeroed_uint16,
)
from tsp_celery.solver.merge import neighbours

# Reduced matrix entries, in engine units: lengths are scaled so the longest union edge is at
# most LENGTH_CAP (longer non-union lengths are capped there); FORCED on every edge but the
# forced ones makes dropping a forced edge cost more than any union edge saves; OUTSIDE keeps
# the search inside the union graph (fnl4461: 4,000 and 20,000 did alike, 1,000 worse).
LENGTH_CAP = 16383
FORCED = 16384
OUTSIDE = UINT16_MAX - LENGTH_CAP - FORCED


def fixed_runs(tours: Sequence[np.ndarray]) -> list[np.ndarray] | None:
    """The first tour cut into runs joined by edges every tour shares, in its order (None when
    all tours are the same cycle)."""
    first = tours[0]
    nxt = np.roll(first, -1)
    shared = np.ones(len(first), dtype=bool)
    for other in tours[1:]:
        succ, pred = neighbours(other, len(other))
        shared &= (succ[first] == nxt) | (pred[first] == nxt)
    if shared.all():
        return None
    # rotate so that position 0 starts a run (the edge before it is not shared)
    cut = int(np.flatnonzero(~shared)[0]) + 1
    order, shared = np.roll(first, -cut), np.roll(shared, -cut)
    return np.split(order, np.flatnonzero(~shared)[:-1] + 1)


class _Reduced:
    """The contracted problem: every run becomes its end node(s); ``partner`` pairs the two ends
    of a run (-1 for a one-node run)."""

    def __init__(self, runs: list[np.ndarray]) -> None:
        self.runs = runs
        ends, run_of, partner = [], [], []
        for i, run in enumerate(runs):
            if len(run) == 1:
                ends.append(run[0])
                run_of.append(i)
                partner.append(-1)
            else:
                k = len(ends)
                ends += [run[0], run[-1]]
                run_of += [i, i]
                partner += [k + 1, k]
        self.ends = np.asarray(ends, dtype=np.int64)
        self.run_of = np.asarray(run_of, dtype=np.int64)
        self.partner = np.asarray(partner, dtype=np.int64)

    @property
    def m(self) -> int:
        return len(self.ends)

    def expand(self, local: np.ndarray) -> np.ndarray | None:
        """The full tour of a reduced tour, or None when it broke a forced edge."""
        local = np.asarray(local, dtype=np.int64)
        partner = self.partner
        # start where the previous node is not this one's partner
        starts = np.flatnonzero(partner[local] != np.roll(local, 1))
        if len(starts) == 0:
            return None
        local = np.roll(local, -int(starts[0]))
        pieces, j = [], 0
        while j < len(local):
            k = local[j]
            run = self.runs[self.run_of[k]]
            if partner[k] < 0:
                pieces.append(run)
                j += 1
                continue
            if j + 1 >= len(local) or local[j + 1] != partner[k]:
                return None
            pieces.append(run if run[0] == self.ends[k] else run[::-1])
            j += 2
        return np.concatenate(pieces)


def _reduced_matrix(problem: Problem, reduced: _Reduced, tours: Sequence[np.ndarray],
                    order: np.ndarray) -> np.ndarray:
    """The engine's matrix of the contracted problem (see module doc), its row k the reduced
    node ``order[k]``."""
    ends, m = reduced.ends[order], reduced.m
    index = np.full(problem.n, -1, dtype=np.int64)
    index[ends] = np.arange(m)
    # every unshared edge joins two run ends
    pairs = np.concatenate([np.stack([index[t], index[np.roll(t, -1)]]) for t in tours], axis=1)
    ui, uj = pairs[:, (pairs >= 0).all(axis=0)]
    longest = float(problem.distances(ends[ui], ends[uj]).max(initial=0))
    integral = problem.is_integral and problem.edge_weight_type != FLOAT_EUCLIDEAN
    scale = scale_for(longest, integral, LENGTH_CAP)
    out = zeroed_uint16(m, m)
    for block in row_blocks(m, m):
        d = engine_block(problem, ends[block], ends, scale)
        np.minimum(d, LENGTH_CAP, out=d)
        d += FORCED + OUTSIDE
        out[block] = d
    out[ui, uj] -= OUTSIDE
    out[uj, ui] = out[ui, uj]
    label = np.empty(m, dtype=np.int64)
    label[order] = np.arange(m)
    partner = reduced.partner[order]
    paired = np.flatnonzero(partner >= 0)
    out[paired, label[partner[paired]]] = 0
    np.fill_diagonal(out, 0)
    return out


def union_tour(problem: Problem, tours: Sequence[np.ndarray], budget_s: float, seed: int = 0,
               threads: int = 1, engine: Engine | None = None) -> np.ndarray:
    """The shortest of the tours and the engine's tour of their union graph, found within
    ``budget_s`` (set-up included)."""
    started = time.monotonic()
    pool = sorted((problem.validate_tour(t) for t in tours), key=problem.tour_length)
    if not pool:
        raise ValueError("Expected at least one tour to merge.")
    best = pool[0]
    runs = fixed_runs(pool) if len(pool) > 1 else None
    if runs is None or len(runs) < 4:
        return best
    reduced = _Reduced(runs)
    # fast-tsp has no seed: a seeded relabelling makes union units differ
    perm = np.random.default_rng(seed).permutation(reduced.m)
    matrix = _reduced_matrix(problem, reduced, pool, perm)
    local = engine_tour(engine or get_engine("fast-tsp"), matrix,
                        budget_s - (time.monotonic() - started), seed, threads)
    del matrix
    tour = reduced.expand(perm[local])
    if tour is None:
        return best
    tour = problem.validate_tour(tour)
    return tour if problem.tour_length(tour) < problem.tour_length(best) else best
