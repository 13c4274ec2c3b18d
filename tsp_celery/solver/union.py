"""Union merging: the shortest tour in the union graph of a pool's tours, by integer programming.

Partition crossover (``crossover``) only swaps components in which two tours pair their portals
the same way; good fast-tsp tours differ globally, so it rarely finds more than a few units
(fnl4461, twenty 5 s tours: pairs gain 1-3 units). The classic remedy (tour merging, Cook &
Seymour 2003) finds the best tour in the *union graph* of several tours: it holds most of the
good edges each of them found elsewhere.

- Edges every tour shares are fixed, and each run of fixed edges is contracted to its two end
  nodes joined by a *forced* edge (fnl4461, eight tours: 4,461 nodes become about 2,300, with
  about as many unshared union edges).
- On that sparse graph the shortest tour is a small integer program: one binary per unshared
  edge, degree 1 at a run end and 2 at a lone node, and subtour cuts added as the solver's
  answers fall apart into cycles (HiGHS through ``scipy.optimize.milp``).
- Solving it whole can take a minute (fnl4461, eight tours: 37-97 s), so it is solved window
  by window: the edges touching a window of nearby reduced nodes (consecutive on the
  space-filling curve) are free, all others keep the current tour's choice, and the program
  only admits answers shorter than the current tour. Windows start at FIRST_WINDOW nodes and
  double each pass until one window is the whole graph; cuts found in one window stay valid
  for all. Every answer is a tour, so the search can stop at any time.

Measurements: docs/performance.md, *Union units*.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

from tsp_celery.problem import Problem
from tsp_celery.solver.crossover import neighbours
from tsp_celery.solver.decompose import region_order
from tsp_celery.solver.quiet import quiet_stdout

# Reduced nodes in a first window: fnl4461, eight tours, one pass of windows of 200 nodes took
# 0.7 s and gained 0.002 points, of 400 1 s and 0.016, of 800 2-3.5 s and 0.032 (of 0.040
# possible); larger windows find the improvements that span more of the tour.
FIRST_WINDOW = 400
# Relative margin by which a float-length answer must be shorter (HiGHS's tolerances).
_EPS = 1e-6


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


@dataclass
class _UnionGraph:
    """The contracted union graph: unshared edges ``a[e]``-``b[e]`` between reduced nodes, their
    lengths, the degree each node needs from them (1 at a run end, 2 at a lone node), and the
    subtour cuts found so far (each the edges leaving one subtour)."""

    reduced: _Reduced
    a: np.ndarray
    b: np.ndarray
    cost: np.ndarray
    degree: csr_matrix
    need: np.ndarray
    cuts: list[np.ndarray] = field(default_factory=list)

    @property
    def edges(self) -> int:
        return len(self.a)


def _unshared_keys(reduced: _Reduced, index: np.ndarray, tour: np.ndarray) -> np.ndarray:
    """The tour's edges between reduced nodes other than forced ones, as keys a*m + b (a < b)."""
    u, v = index[tour], index[np.roll(tour, -1)]
    ends = (u >= 0) & (v >= 0)
    u, v = np.minimum(u[ends], v[ends]), np.maximum(u[ends], v[ends])
    unshared = reduced.partner[u] != v
    return u[unshared] * reduced.m + v[unshared]


def _union_graph(problem: Problem, reduced: _Reduced,
                 tours: Sequence[np.ndarray]) -> tuple[_UnionGraph, np.ndarray]:
    """The union graph of ``tours`` and the first tour's edge choice (0/1 per unshared edge)."""
    m = reduced.m
    index = np.full(problem.n, -1, dtype=np.int64)
    index[reduced.ends] = np.arange(m)
    keys = [_unshared_keys(reduced, index, t) for t in tours]
    union = np.unique(np.concatenate(keys))
    a, b = union // m, union % m
    cost = np.asarray(problem.distances(reduced.ends[a], reduced.ends[b]), dtype=np.float64)
    e = len(union)
    degree = csr_matrix((np.ones(2 * e), (np.concatenate([a, b]), np.tile(np.arange(e), 2))),
                        shape=(m, e))
    need = np.where(reduced.partner >= 0, 1.0, 2.0)
    chosen = np.isin(union, keys[0]).astype(np.float64)
    return _UnionGraph(reduced, a, b, cost, degree, need), chosen


def _cycles(graph: _UnionGraph, chosen: np.ndarray) -> tuple[int, np.ndarray]:
    """How many cycles the chosen edges and the forced ones form, and each node's cycle."""
    m, partner = graph.reduced.m, graph.reduced.partner
    paired = np.flatnonzero(partner >= 0)
    on = chosen > 0.5
    rows = np.concatenate([graph.a[on], paired])
    cols = np.concatenate([graph.b[on], partner[paired]])
    adjacency = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(m, m))
    return connected_components(adjacency, directed=False)


def _cut_constraint(graph: _UnionGraph) -> LinearConstraint:
    """Every subtour seen so far must be left by at least two edges."""
    rows = np.concatenate([np.full(len(c), i) for i, c in enumerate(graph.cuts)])
    cols = np.concatenate(graph.cuts)
    matrix = csr_matrix((np.ones(len(cols)), (rows, cols)),
                        shape=(len(graph.cuts), graph.edges))
    return LinearConstraint(matrix, 2.0, np.inf)


def _best_within(graph: _UnionGraph, lower: np.ndarray, upper: np.ndarray, below: float,
                 deadline: float) -> np.ndarray | None:
    """The shortest tour of the union graph with every edge between its bounds (0/1) and a
    length under ``below``, adding subtour cuts until the answer is one cycle; None when there
    is none or time runs out first."""
    while (left := deadline - time.monotonic()) > 0:
        constraints = [LinearConstraint(graph.degree, graph.need, graph.need),
                       LinearConstraint(graph.cost[np.newaxis, :], -np.inf, below)]
        if graph.cuts:
            constraints.append(_cut_constraint(graph))
        with quiet_stdout():
            res = milp(graph.cost, constraints=constraints, integrality=np.ones(graph.edges),
                       bounds=Bounds(lower, upper),
                       options={"time_limit": left, "mip_rel_gap": 0.0})
        if res.x is None:
            return None
        chosen = np.round(res.x)
        count, label = _cycles(graph, chosen)
        if count == 1:
            return chosen
        for k in range(count):
            inside = label == k
            graph.cuts.append(np.flatnonzero(inside[graph.a] != inside[graph.b]))
    return None


def _windows(order: np.ndarray, size: int, offset: int) -> list[np.ndarray]:
    """Windows of ``size`` consecutive nodes of ``order`` (wrapping), each half over the last."""
    m = len(order)
    if size >= m:
        return [order]
    return [order[(offset + s + np.arange(size)) % m] for s in range(0, m, max(1, size // 2))]


def _curve_order(problem: Problem, reduced: _Reduced, best: np.ndarray) -> np.ndarray:
    """Reduced nodes along the space-filling curve (``decompose.region_order``), so that a
    window of consecutive ones is a patch of the plane."""
    rank = np.empty(problem.n, dtype=np.int64)
    rank[region_order(problem, best)] = np.arange(problem.n)
    return np.argsort(rank[reduced.ends], kind="stable")


def _reduced_cycle(graph: _UnionGraph, chosen: np.ndarray) -> np.ndarray:
    """The reduced nodes in the order of the one cycle the chosen and forced edges form."""
    m, partner = graph.reduced.m, graph.reduced.partner
    on = np.flatnonzero(chosen > 0.5)
    ends = np.concatenate([graph.a[on], graph.b[on], np.flatnonzero(partner >= 0)])
    others = np.concatenate([graph.b[on], graph.a[on], partner[partner >= 0]])
    by_node = np.argsort(ends, kind="stable")
    other = others[by_node].reshape(m, 2)  # every node has exactly two cycle neighbours
    order, prev, cur = np.empty(m, dtype=np.int64), -1, 0
    for k in range(m):
        order[k] = cur
        nxt = int(other[cur, 0]) if int(other[cur, 0]) != prev else int(other[cur, 1])
        prev, cur = cur, nxt
    return order


def union_tour(problem: Problem, tours: Sequence[np.ndarray], budget_s: float,
               seed: int = 0) -> np.ndarray:
    """The shortest tour found within ``budget_s`` in the union graph of ``tours``; never longer
    than the shortest of them. ``seed`` shifts the windows, so union units differ."""
    deadline = time.monotonic() + budget_s
    pool = sorted((problem.validate_tour(t) for t in tours), key=problem.tour_length)
    if not pool:
        raise ValueError("Expected at least one tour to merge.")
    best = pool[0]
    runs = fixed_runs(pool) if len(pool) > 1 else None
    if runs is None or len(runs) < 4:
        return best
    reduced = _Reduced(runs)
    graph, chosen = _union_graph(problem, reduced, pool)
    length = float(graph.cost @ chosen)
    start = length
    # only shorter answers count: by a whole unit when lengths are integers
    margin = 0.5 if problem.is_integral else _EPS * max(length, 1.0)
    order = _curve_order(problem, reduced, best)
    size = min(FIRST_WINDOW, reduced.m)
    while time.monotonic() < deadline:
        for window in _windows(order, size, seed % reduced.m):
            free = np.zeros(reduced.m, dtype=bool)
            free[window] = True
            free = free[graph.a] | free[graph.b]
            found = _best_within(graph, np.where(free, 0.0, chosen),
                                 np.where(free, 1.0, chosen), length - margin, deadline)
            if found is not None:
                chosen, length = found, float(graph.cost @ found)
        if size >= reduced.m:
            break
        size *= 2
    if length >= start:
        return best
    tour = problem.validate_tour(reduced.expand(_reduced_cycle(graph, chosen)))
    return tour if problem.tour_length(tour) < problem.tour_length(best) else best
