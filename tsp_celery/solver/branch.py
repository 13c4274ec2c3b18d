"""Branch-and-cut: a lower bound that reaches the optimum, proving a tour optimal.

Each search node solves the LP of ``solver.lp_bound`` with some edges fixed to 0 or 1, adds
cuts (``solver.cuts``) and priced edges until the bound stalls, and is pruned once its exact
bound rounds up to the incumbent ``upper`` (no shorter tour below it). Otherwise it branches,
by strong branching among a few long edges near 1/2 (x_e = 0 or 1) and a few sets S of the LP's
cuts with x(delta(S)) near 3 (x(delta(S)) = 2 or >= 4: a tour crosses S an even number of
times, Concorde's branching on cliques); nodes are searched best bound first. After the root,
reduced-cost elimination drops every edge that no tour shorter than ``upper`` can use (up to
``LISTED_MAX_N`` nodes; above, the pool is the unlisted complete graph, and a node whose LP the
working edges cannot solve ends the search, open). At any moment ``min(upper, the smallest open
node bound)`` is a valid bound, and when no node is open it equals ``upper``: no tour is
shorter. ``upper`` need not be a tour's length (any number works: either a shorter tour turns
up, or none is shorter), so a target also serves.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tsp_celery.problem import Problem
from tsp_celery.solver.cuts import Cut, coefficient_matrix
from tsp_celery.solver.held_karp import candidate_edges
from tsp_celery.solver.lp_bound import SCALE, CompletePool, EdgeLP, EdgePool, LpSolution, ceil_div
from tsp_celery.solver.separation import separate

# Largest instance whose edges are all listed, so that elimination can drop them (2,000 nodes:
# 2 M pairs, about 50 MB; at 10 s, d1291 and fl1577 ended closer to the optimum listed than not).
LISTED_MAX_N = 2000
_NEIGHBOURS = 10        # nearest neighbours per node in the first working edge set
_STALL_ROUNDS = 4       # cut rounds over which the bound must gain ...
_STALL_SHARE = 0.01     # ... this share of the remaining gap, or the node branches
_STALL_FLOOR = 1e-4     # ... (or of the bound, when that is less)
_MAX_ROUNDS = 200
_EPS = 1e-6
_STRONG_CANDIDATES = 2  # edges probed per branching (Concorde probes a few dozen)
_STRONG_ITERATIONS = 100    # dual simplex iterations per probe (Concorde's default)
_GAIN_FLOOR = 1e-3      # a probe's gain counts at least this (in the product score)
_STRONG_SETS = 2        # cut sets probed per branching, x(delta(S)) nearest 3
_SET_SPREAD = 0.25      # ... and at least this far from 2 and 4


@dataclass
class Certificate:
    """``lower`` is a valid bound; ``lower == upper`` proves ``tour`` (when set) optimal."""

    lower: int
    upper: int
    tour: np.ndarray | None
    nodes: int

    @property
    def proven(self) -> bool:
        return self.lower >= self.upper


class _Unsolved(Exception):
    """The LP over the working edges is infeasible and the pool cannot be listed to widen it."""


@dataclass
class _Search:
    problem: Problem
    lp: EdgeLP
    upper: int
    tour: np.ndarray | None
    deadline: float
    nodes: int = 0


def _pool(problem: Problem) -> EdgePool | CompletePool:
    """Every pair u < v with its exact integer length, listed up to ``LISTED_MAX_N`` nodes
    (so elimination can shrink it and branching can fall back on it), implicit above."""
    n = problem.n
    if n > LISTED_MAX_N:
        return CompletePool(problem)
    u, v = np.triu_indices(n, 1)
    cost = np.asarray(problem.distances(u, v)).astype(np.int64)
    return EdgePool(n, u.astype(np.int64), v.astype(np.int64), cost)


def _first_edges(problem: Problem, pool: EdgePool | CompletePool,
                 tour: np.ndarray | None) -> np.ndarray:
    """Keys of the tour's edges and each node's nearest neighbours: exact from a listed pool,
    else by KD-tree with the Delaunay edges (pricing adds whatever else the LP needs)."""
    n = problem.n
    k = min(_NEIGHBOURS, n - 1)
    if isinstance(pool, EdgePool):
        d = np.full((n, n), np.inf)
        d[pool.u, pool.v] = d[pool.v, pool.u] = pool.cost
        a, b = np.repeat(np.arange(n), k), np.argpartition(d, k - 1, axis=1)[:, :k].ravel()
    else:
        a, b = candidate_edges(problem, k, None, exact_max_n=0).T
    if tour is not None:
        a, b = np.concatenate([a, tour]), np.concatenate([b, np.roll(tour, -1)])
    keep = a != b
    return np.unique(np.minimum(a, b)[keep] * n + np.maximum(a, b)[keep])


def _tour_of(lp: EdgeLP, x: np.ndarray) -> np.ndarray:
    """The cycle of an integral, connected 2-factor ``x``."""
    on = np.flatnonzero(x > 0.5)
    nbrs: list[list[int]] = [[] for _ in range(lp.n)]
    for e in on:
        nbrs[int(lp.u[e])].append(int(lp.v[e]))
        nbrs[int(lp.v[e])].append(int(lp.u[e]))
    order, prev, cur = [0], -1, 0
    for _ in range(lp.n - 1):
        nxt = nbrs[cur][0] if nbrs[cur][0] != prev else nbrs[cur][1]
        order.append(nxt)
        prev, cur = cur, nxt
    return np.asarray(order, dtype=np.int64)


def _cut_loop(s: _Search, fixed: dict[int, int],
              sides: dict[int, int] | None = None) -> tuple[int, LpSolution] | None:
    """Cuts and pricing at one node: its exact scaled bound and last LP solution, or None when
    no tour shorter than ``upper`` respects ``fixed`` and the parity ``sides``."""
    lp, history, widened = s.lp, [], None
    total, sol = 0, None
    for _ in range(_MAX_ROUNDS):
        sol = lp.solve(fixed, sides or {})
        if sol is None:
            if not lp.pool.listable:
                raise _Unsolved
            if widened is not None or len(lp.keys) == len(lp.pool.u):
                return None
            widened = lp.keys
            lp.add_edges(lp.pool.keys())           # infeasible on the working set only
            continue
        if widened is not None:     # feasible again: back to the edges it had and uses
            lp.narrow(sol.x, np.concatenate([widened, np.fromiter(fixed, dtype=np.int64)]))
            widened = None
            continue
        total, keys, rc = lp.exact_bound(sol, fixed)   # valid even before pricing is done
        if ceil_div(total) >= s.upper or time.monotonic() > s.deadline:
            break
        if lp.price(keys, rc):
            continue
        history.append(total)
        if len(history) > _STALL_ROUNDS:
            gain = total - history[-1 - _STALL_ROUNDS]
            # a far incumbent (large instances) must not stop the cuts while they still pay
            if gain < min(_STALL_SHARE * (s.upper * SCALE - total), _STALL_FLOOR * total):
                break       # before adding cuts: branching probes the LP as last solved
        # combs and exact blossoms cost a cut tree per round: worth it at the root, whose cuts
        # all nodes share
        cuts = separate(lp.n, lp.u, lp.v, sol.x, root=not fixed and not sides, pool=lp.cuts,
                        deadline=s.deadline)
        if lp.add_cuts(cuts) == 0:
            break
    return (total, sol) if sol is not None else None


def _eliminate(s: _Search, total: int, sol: LpSolution) -> None:
    """Drop the edges whose reduced cost lifts the root bound to ``upper``: no shorter tour
    uses them (the bound with x_e = 1 forced is at least ``total + rc_e``)."""
    pool = s.lp.pool
    rc = s.lp.reduced_costs(sol, pool.u, pool.v, pool.cost)
    pool.keep(total + np.maximum(rc, 0) <= (s.upper - 1) * SCALE)
    s.lp.drop_eliminated()


def _odd_sets(lp: EdgeLP, x: np.ndarray) -> list[np.ndarray]:
    """Up to ``_STRONG_SETS`` sets of the LP's cuts (at least 3 nodes on each side) whose
    x(delta(S)) is nearest 3, at least ``_SET_SPREAD`` from 2 and from 4 (Concorde's branch
    cliques: every tour has x(delta(S)) = 2 or >= 4)."""
    sets = {tuple(s.tolist()): s for cut in lp.cuts for s in cut.sets
            if 3 <= len(s) <= lp.n - 3}
    if not sets:
        return []
    found = list(sets.values())
    crossing = coefficient_matrix([Cut((s,), 2) for s in found], lp.n, lp.u, lp.v) @ x
    off = np.abs(crossing - 3.0)
    ranked = np.argsort(off)[:_STRONG_SETS]
    return [found[i] for i in ranked if off[i] <= 1.0 - _SET_SPREAD]


def _branch(lp: EdgeLP, x: np.ndarray, value: float) -> tuple[str, int] | None:
    """What to branch on: ``("edge", key)`` or ``("set", cut index)``, None when x is
    integral. Strong branching: of the ``_STRONG_CANDIDATES`` longest edges near 1/2 (at least
    half as far from 0 and 1 as the most fractional one) and the sets of ``_odd_sets``, the one
    whose two children's LP values (after a few dual simplex iterations each) rise most, by the
    product of their gains over ``value``."""
    spread = np.minimum(x, 1.0 - x)
    if spread.max() < _EPS:
        return None
    score = np.where(spread > 0.5 * spread.max(), spread * lp.cost, -1.0)
    ranked = np.argsort(-score)[:_STRONG_CANDIDATES]
    ranked = ranked[score[ranked] >= 0]     # the most fractional edge is always there
    best, best_gain = ("edge", int(lp.keys[ranked[0]])), -1.0
    for column in ranked:
        gains = [max(lp.probe(int(column), side, _STRONG_ITERATIONS) - value, _GAIN_FLOOR)
                 for side in (0.0, 1.0)]
        if gains[0] * gains[1] > best_gain:
            best, best_gain = ("edge", int(lp.keys[column])), gains[0] * gains[1]
    for nodes in _odd_sets(lp, x):
        row = lp.subtour_row(nodes)
        gains = [max(lp.probe_side(row, side, _STRONG_ITERATIONS) - value, _GAIN_FLOOR)
                 for side in (2, 4)]
        if gains[0] * gains[1] > best_gain:
            best, best_gain = ("set", row), gains[0] * gains[1]
    return best


def branch_and_cut(problem: Problem, deadline: float, *, tour: np.ndarray | None = None,
                   upper: int | None = None,
                   on_progress: Callable[[int, int], None] | None = None) -> Certificate:
    """The best bound branch-and-cut reaches by ``deadline`` for an integral ``problem``;
    ``on_progress(lower, upper)`` hears each improvement of the global bound."""
    pool = _pool(problem)
    best = 2**62 if upper is None else int(upper)
    if tour is not None:
        tour = np.asarray(tour, dtype=np.int64)
        best = min(best, int(problem.tour_length(tour)))
    s = _Search(problem, EdgeLP(problem.n, pool, _first_edges(problem, pool, tour)), best, tour,
                deadline)
    counter = itertools.count()
    # a node: its parent's bound, a tie-break, fixed edges and subtour rows on a parity side
    open_nodes: list[tuple[int, int, dict[int, int], dict[int, int]]] = [
        (0, next(counter), {}, {})]
    reported, eliminated = -1, False
    while open_nodes and time.monotonic() < deadline:
        parent_bound, _, fixed, sides = heapq.heappop(open_nodes)
        s.nodes += 1
        try:
            node = _cut_loop(s, fixed, sides)
        except _Unsolved:    # proves nothing: the node stays open and the search ends
            heapq.heappush(open_nodes, (parent_bound, next(counter), fixed, sides))
            break
        if node is not None:
            total, sol = node
            bound = ceil_div(total)
            if not fixed and bound < s.upper and not eliminated and pool.listable:
                _eliminate(s, total, sol)            # then solve the root again without them
                eliminated = True
                heapq.heappush(open_nodes, (bound, next(counter), fixed, sides))
                continue
            choice = _branch(s.lp, sol.x, sol.value) if bound < s.upper else None
            if bound < s.upper and choice is None and not separate(problem.n, s.lp.u, s.lp.v,
                                                                   sol.x):
                s.tour = _tour_of(s.lp, sol.x)
                s.upper = int(problem.tour_length(s.tour))
            elif bound < s.upper and choice is not None and choice[0] == "edge":
                for value in (1, 0):
                    heapq.heappush(open_nodes, (bound, next(counter),
                                                {**fixed, choice[1]: value}, sides))
            elif bound < s.upper and choice is not None:
                for side in (2, 4):
                    heapq.heappush(open_nodes, (bound, next(counter), fixed,
                                                {**sides, choice[1]: side}))
            elif bound < s.upper:        # integral yet cut off, with time up: keep it open
                heapq.heappush(open_nodes, (bound, next(counter), fixed, sides))
        open_nodes = [o for o in open_nodes if o[0] < s.upper]
        heapq.heapify(open_nodes)
        lower = min([s.upper] + [o[0] for o in open_nodes])
        if lower > reported and on_progress is not None:
            reported = lower
            on_progress(lower, s.upper)
    lower = min([s.upper] + [o[0] for o in open_nodes])
    return Certificate(lower, s.upper, s.tour, s.nodes)
