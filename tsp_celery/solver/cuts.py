"""Cutting planes for the TSP's LP: subtour elimination and blossom inequalities.

Every cut is stored as ``sum over S in sets of x(delta(S)) >= rhs`` (Concorde's form): a subtour
cut has one set and rhs 2, a blossom a handle plus t two-node teeth (t odd) and rhs 3t + 1.
Every tour satisfies both, so adding them never cuts off a tour. Separation works on the LP's
fractional solution ``x`` over edges ``u``-``v``; cuts are re-checked in floating point and
kept only when violated by at least ``MIN_VIOLATION`` (Concorde's ``CCtsp_MIN_VIOL``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order, connected_components, maximum_flow

MIN_VIOLATION = 0.002
_FLOW_SCALE = 1_000_000          # maximum_flow needs integer capacities
_EPS = 1e-6
_BLOSSOM_THRESHOLDS = (1.0 - _EPS, 0.75, 0.6)
_ENOUGH_CUTS = 8            # cuts per round from a cut tree, or one per this many nodes
_NODES_PER_CUT = 16


@dataclass(frozen=True)
class Cut:
    """``sum over S in sets of x(delta(S)) >= rhs``; each set a sorted array of node indices."""

    sets: tuple[np.ndarray, ...]
    rhs: int

    def key(self) -> tuple:
        return (self.rhs, *sorted(tuple(int(i) for i in s) for s in self.sets))

    def coefficients(self, n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """How many of the cut's sets each edge ``u``-``v`` crosses."""
        coef = np.zeros(len(u))        # one cut: a pass per set beats building sparse matrices
        for s in self.sets:
            inside = np.zeros(n, dtype=bool)
            inside[s] = True
            coef += inside[u] != inside[v]
        return coef

    def slack(self, n: int, u: np.ndarray, v: np.ndarray, x: np.ndarray) -> float:
        """Left side minus rhs at ``x`` (negative when violated)."""
        # an elementwise sum: a BLAS dot spins threads and crawls on a busy machine
        return float(np.sum(self.coefficients(n, u, v) * x)) - self.rhs


def coefficient_matrix(cuts: list[Cut], n: int, u: np.ndarray, v: np.ndarray) -> csr_matrix:
    """Row k, column e: how many of cut k's sets edge ``u[e]``-``v[e]`` crosses (all cuts in a
    few sparse products: one row per cut and edge would cost a pass over all edges each)."""
    sets = [s for cut in cuts for s in cut.sets]
    if not sets:
        return csr_matrix((len(cuts), len(u)))
    rows = np.concatenate(sets)
    cols = np.repeat(np.arange(len(sets)), [len(s) for s in sets])
    member = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, len(sets)))
    owner = np.repeat(np.arange(len(cuts)), [len(cut.sets) for cut in cuts])
    of_cut = csr_matrix((np.ones(len(sets)), (owner, np.arange(len(sets)))),
                        shape=(len(cuts), len(sets)))
    return (of_cut @ abs(member[u] - member[v]).T).tocsr()


def _enough(n: int) -> int:
    """Cuts worth one round from a cut tree: large instances need many per LP solve."""
    return max(_ENOUGH_CUTS, n // _NODES_PER_CUT)


def smaller_side(n: int, nodes: np.ndarray) -> np.ndarray:
    """The smaller side of a cut (either side defines the same x(delta(S)))."""
    nodes = np.sort(nodes)
    if 2 * len(nodes) > n:
        nodes = np.setdiff1d(np.arange(n), nodes)
    return nodes


def component_cuts(n: int, u: np.ndarray, v: np.ndarray, x: np.ndarray) -> list[Cut]:
    """One subtour cut per connected component of the support graph, when it has several."""
    on = x > _EPS
    count, label = connected_components(
        csr_matrix((np.ones(on.sum()), (u[on], v[on])), shape=(n, n)), directed=False)
    if count == 1:
        return []
    return [Cut((smaller_side(n, np.flatnonzero(label == k)),), 2) for k in range(count)]


def _residual(graph: csr_matrix, flow: csr_matrix) -> csr_matrix:
    """The arcs with residual capacity left (the flow usually shares the graph's layout, which
    saves a sparse subtraction per flow)."""
    if np.array_equal(flow.indptr, graph.indptr) and np.array_equal(flow.indices, graph.indices):
        out = csr_matrix(((graph.data - flow.data > 0).astype(np.int8), graph.indices,
                          graph.indptr), shape=graph.shape)
    else:
        out = graph - flow
        out.data = (out.data > 0).astype(out.data.dtype)
    out.eliminate_zeros()
    return out


def _cut_tree(k: int, a: np.ndarray, b: np.ndarray, cap: np.ndarray,
              deadline: float) -> Iterator[tuple[np.ndarray, float]]:
    """Gusfield's k - 1 maximum flows (a Gomory–Hu cut tree) on nodes 0..k-1 with edges
    ``a``-``b`` of capacity ``cap``: each flow's source side (a mask) and the cut's value;
    cut short at ``deadline`` (large graphs take a flow per node)."""
    scaled = np.round(cap * _FLOW_SCALE).astype(np.int32)
    graph = csr_matrix((np.concatenate([scaled, scaled]),
                        (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(k, k))
    graph.sum_duplicates()
    graph.sort_indices()
    parent = np.zeros(k, dtype=np.int64)
    for s in range(1, k):
        if time.monotonic() > deadline:
            return
        t = int(parent[s])
        res = maximum_flow(graph, s, t)
        side = breadth_first_order(_residual(graph, res.flow), s, directed=True,
                                   return_predecessors=False)
        inside = np.zeros(k, dtype=bool)
        inside[side] = True
        later = np.arange(s + 1, k)
        parent[later[inside[later] & (parent[later] == t)]] = s
        yield inside, res.flow_value / _FLOW_SCALE


def shrink_ones(
    n: int, u: np.ndarray, v: np.ndarray, x: np.ndarray
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The support graph with each 1-path shrunk to a node: (node count, each original node's
    label, shrunk edges a < b, their summed x)."""
    whole = x >= 1.0 - _EPS
    k, label = connected_components(
        csr_matrix((np.ones(whole.sum()), (u[whole], v[whole])), shape=(n, n)), directed=False
    )
    on = x > _EPS
    a, b = label[u[on]], label[v[on]]
    cross = a != b
    keys, inverse = np.unique(
        np.minimum(a, b)[cross] * k + np.maximum(a, b)[cross], return_inverse=True
    )
    return k, label, keys // k, keys % k, np.bincount(inverse, x[on][cross], len(keys))


def min_cut_cuts(n: int, u: np.ndarray, v: np.ndarray, x: np.ndarray,
                 deadline: float = math.inf) -> list[Cut]:
    """Exact subtour separation: a cut tree of the support graph with its 1-edges contracted
    (safe: a violated set never needs to split one); every cut below 2 is a violated subtour."""
    k, label, a, b, y = shrink_ones(n, u, v, x)
    found: dict[tuple, Cut] = {}
    for inside, value in _cut_tree(k, a, b, y, deadline):
        if value < 2.0 - MIN_VIOLATION:
            cut = Cut((smaller_side(n, np.flatnonzero(inside[label])),), 2)
            if cut.slack(n, u, v, x) < -MIN_VIOLATION:
                found.setdefault(cut.key(), cut)
                if len(found) >= _enough(n):    # enough for one round; the rest can wait
                    break
    return list(found.values())


def exact_blossom_cuts(n: int, u: np.ndarray, v: np.ndarray, x: np.ndarray,
                       deadline: float = math.inf) -> list[Cut]:
    """Letchford–Reinelt–Theis (2008): a cut tree on weights min(x, 1 - x); for each of its cuts
    the teeth are the crossing edges above 1/2, made odd by toggling the edge nearest 1/2. Teeth
    may share nodes: with the degree equations the cut is x(delta(H) - F) - x(F) >= 1 - |F|,
    valid for every tour whatever F (odd) is."""
    on = np.flatnonzero(x > _EPS)
    found: dict[tuple, Cut] = {}
    weight = np.minimum(x[on], 1.0 - x[on])
    for inside, value in _cut_tree(n, u[on], v[on], np.maximum(weight, 0.0), deadline):
        crossing = on[inside[u[on]] != inside[v[on]]]
        if value >= 1.0 or len(crossing) == 0:
            continue
        teeth = set(crossing[x[crossing] > 0.5].tolist())
        if len(teeth) % 2 == 0:
            teeth ^= {int(crossing[np.argmin(np.abs(x[crossing] - 0.5))])}
        if len(teeth) < 3:
            continue
        sets = (smaller_side(n, np.flatnonzero(inside)),
                *(np.sort(np.array([u[e], v[e]])) for e in sorted(teeth)))
        cut = Cut(sets, 3 * len(teeth) + 1)
        if cut.slack(n, u, v, x) < -MIN_VIOLATION:
            found.setdefault(cut.key(), cut)
            if len(found) >= _enough(n):
                break
    return list(found.values())


def blossom_cuts(n: int, u: np.ndarray, v: np.ndarray, x: np.ndarray) -> list[Cut]:
    """Odd-component blossom heuristics (Padberg–Hong; Grötschel–Holland's thresholds): a
    component of the edges below a threshold is a handle, the edges above it leaving the handle
    are its teeth; kept when the teeth are disjoint, odd in number and the cut is violated.
    All components are screened at once: with the degree equations a two-node tooth e has
    x(delta(T)) = 4 - 2 x_e, so the slack is x(delta(H)) + t - 2 x(teeth) - 1."""
    found: dict[tuple, Cut] = {}
    on = x > _EPS
    for tau in _BLOSSOM_THRESHOLDS:
        light = on & (x < tau)
        if not light.any():
            continue
        count, label = connected_components(
            csr_matrix((np.ones(light.sum()), (u[light], v[light])), shape=(n, n)),
            directed=False)
        lu, lv = label[u], label[v]
        cross = on & (lu != lv)
        tooth = cross & (x >= tau)
        t = _per_label(lu, lv, count, tooth)
        screen = (_per_label(lu, lv, count, cross, x) + t
                  - 2 * _per_label(lu, lv, count, tooth, x) - 1)
        odd = (t >= 3) & (t % 2 == 1) & (np.bincount(label, minlength=count) >= 3)
        candidates = []
        for k in np.flatnonzero(odd & (screen < -MIN_VIOLATION / 2)):
            inside = label == k
            teeth = np.flatnonzero(tooth & (inside[u] != inside[v]))
            ends = np.concatenate([u[teeth], v[teeth]])
            if len(np.unique(ends)) == 2 * len(teeth):
                candidates.append(Cut((np.flatnonzero(inside), *(np.sort(np.array([u[e], v[e]]))
                                                                 for e in teeth)),
                                      3 * len(teeth) + 1))
        for cut in violated(candidates, n, u, v, x):
            found.setdefault(cut.key(), cut)
    return list(found.values())


def _per_label(lu: np.ndarray, lv: np.ndarray, count: int, mask: np.ndarray,
               w: np.ndarray | None = None) -> np.ndarray:
    """Per label, the number (or weight ``w``) of the edges in ``mask`` with an end there."""
    weights = None if w is None else w[mask]
    return np.bincount(lu[mask], weights, count) + np.bincount(lv[mask], weights, count)


def violated(cuts: list[Cut], n: int, u: np.ndarray, v: np.ndarray, x: np.ndarray) -> list[Cut]:
    """The cuts violated by at least ``MIN_VIOLATION`` at ``x`` (checked all at once)."""
    if not cuts:
        return []
    lhs = coefficient_matrix(cuts, n, u, v) @ x
    return [c for c, value in zip(cuts, lhs, strict=True) if value - c.rhs < -MIN_VIOLATION]
