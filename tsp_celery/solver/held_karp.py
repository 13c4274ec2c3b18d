"""Held–Karp lower bound: subgradient ascent of node penalties over minimum 1-trees.

For any node penalties ``pi``, the minimum 1-tree under weights ``d(i, j) + pi[i] + pi[j]``,
minus ``2 * sum(pi)``, is a lower bound on every tour (Held & Karp 1971). The ascent follows
LKH's ``Ascent`` (step doubled while it improves in the initial phase, periods halved with the
step, the ``0.7 v + 0.3 v_last`` direction), with the first period fitted to the time budget
(up to 4n iterations: long periods are what clustered instances need) and restarts from the
best penalties while time is left. It runs on a sparse candidate graph (k nearest, Delaunay,
tour and exact 1-tree edges), where one iteration costs a scipy MST instead of a dense O(n²)
Prim. A bound is only *proven* by evaluating a 1-tree exactly over the complete graph (dense
vectorised Prim, now and then and at the end); above ``DENSE_MAX_N`` nodes, or when asked, the
sparse value is returned as an estimate with ``proven=False``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree
from scipy.spatial import Delaunay, QhullError, cKDTree

from tsp_celery.problem import Problem
from tsp_celery.problem.distance import geo_radians

# Largest instance whose bound is proven on the complete graph (one dense Prim is O(n²)).
DENSE_MAX_N = 10_000
# A full distance matrix is cached for the dense evaluations when it fits this many bytes.
MATRIX_BUDGET_BYTES = 256 * 2**20
METHOD_DENSE = "held-karp 1-tree, complete graph"
METHOD_SPARSE = "held-karp 1-tree, sparse candidate graph (estimate, not a proof)"
_NEIGHBOURS = 6      # k nearest neighbours per node in the candidate graph
_ADJ_WIDTH = 16      # incident candidate edges kept per node for the 1-tree's extra edge
_FIRST_STEP = 0.01   # the ascent's first step, as a fraction of the mean 1-tree edge
_BLOCK = 2**21       # matrix entries per block in blocked row computations


@dataclass
class LowerBound:
    """A lower bound on the optimal tour length; ``proven`` says it is a valid bound."""

    value: float
    proven: bool
    iterations: int
    elapsed_s: float
    method: str

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> LowerBound:
        return cls(value=float(d["value"]), proven=bool(d["proven"]),
                   iterations=int(d["iterations"]), elapsed_s=float(d["elapsed_s"]),
                   method=str(d["method"]))


@dataclass
class _OneTree:
    length: float                 # sum of the real distances of the 1-tree's edges
    deg: np.ndarray               # node degrees in the 1-tree
    edges: np.ndarray             # (m, 2) edges worth keeping as candidates

    def bound(self, pi: np.ndarray) -> float:
        """L(pi) = w_pi(T) - 2 sum(pi) = d(T) + sum(pi * (deg - 2)), the stabler form
        (an elementwise sum: a BLAS dot spins threads and crawls on a busy machine)."""
        return self.length + float(np.sum(pi * (self.deg - 2)))


class _Rows:
    """Distance rows of the complete graph, from a cached matrix or computed on the fly."""

    def __init__(self, problem: Problem, budget_bytes: int, deadline: float) -> None:
        self.problem = problem
        self.matrix = problem.matrix
        n = problem.n
        if self.matrix is None and n * n * (4 if problem.is_integral else 8) <= budget_bytes:
            self.matrix = self._compact(problem, deadline)

    @staticmethod
    def _compact(problem: Problem, deadline: float) -> np.ndarray | None:
        """The full matrix, int32 for integral problems; None if a distance overflows or
        ``deadline`` passes first."""
        n = problem.n
        out = np.empty((n, n), dtype=np.int32 if problem.is_integral else np.float64)
        step = max(1, _BLOCK // n)
        for lo in range(0, n, step):
            r = np.arange(lo, min(n, lo + step))
            block = problem.distances(r[:, None], np.arange(n)[None, :])
            if time.monotonic() > deadline or (
                problem.is_integral and block.max() > np.iinfo(np.int32).max
            ):
                return None
            out[lo : lo + len(r)] = block
        return out

    def __call__(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Float distances between every ``rows[a]`` and ``cols[b]`` (rows may be a scalar)."""
        if self.matrix is not None:
            if np.ndim(rows) == 0:
                return self.matrix[rows].take(cols).astype(float)
            return self.matrix[np.ix_(rows, cols)].astype(float)
        r = np.asarray(rows)[..., None] if np.ndim(rows) else rows
        return self.problem.distances(r, cols).astype(float)


def _dense_one_tree(rows: _Rows, pi: np.ndarray, deadline: float) -> _OneTree | None:
    """Minimum 1-tree over the complete graph (LKH's: MST plus the best leaf's second edge).

    Prim with the unvisited nodes packed at the front of the arrays (swap-remove), so every
    step is a few numpy calls on the shrinking remainder. None when ``deadline`` passes.
    """
    n = len(pi)
    rem = np.arange(1, n)
    pirem = pi[1:].copy()
    key = rows(0, rem) + pirem + pi[0]
    via = np.zeros(n - 1, dtype=np.int64)
    parent = np.full(n, -1, dtype=np.int64)
    for m in range(n - 1, 0, -1):
        if m % 512 == 0 and time.monotonic() > deadline:
            return None
        j = int(np.argmin(key[:m]))
        u = int(rem[j])
        parent[u] = via[j]
        last = m - 1
        rem[j], key[j], via[j], pirem[j] = rem[last], key[last], via[last], pirem[last]
        if last == 0:
            break
        w = rows(u, rem[:last]) + pirem[:last] + pi[u]
        better = w < key[:last]
        key[:last][better] = w[better]
        via[:last][better] = u
    child, par = np.arange(1, n), parent[1:]
    tree = np.stack([child, par], axis=1)
    deg = np.bincount(tree.ravel(), minlength=n)
    leaves = np.flatnonzero(deg == 1)
    # the leaf's tree neighbour; the root 0 can be a leaf too, with its single child
    tnb = parent.copy()
    tnb[0] = child[par == 0][0]
    extra_w = np.empty(len(leaves))
    extra_to = np.empty(len(leaves), dtype=np.int64)
    step = max(1, _BLOCK // n)
    allnodes = np.arange(n)
    for lo in range(0, len(leaves), step):
        lv = leaves[lo : lo + step]
        w = rows(lv, allnodes) + pi[None, :] + pi[lv, None]
        ar = np.arange(len(lv))
        w[ar, lv] = np.inf
        w[ar, tnb[lv]] = np.inf
        extra_to[lo : lo + step] = w.argmin(axis=1)
        extra_w[lo : lo + step] = w[ar, extra_to[lo : lo + step]]
    best = int(np.argmax(extra_w))
    leaf_extra = np.stack([leaves, extra_to], axis=1)
    one = np.vstack([tree, leaf_extra[best : best + 1]])
    return _OneTree(_exact_length(rows.problem, one), np.bincount(one.ravel(), minlength=n),
                    np.vstack([tree, leaf_extra]))


def _exact_length(problem: Problem, edges: np.ndarray) -> float:
    """Sum of exact edge lengths (integer arithmetic for integral problems)."""
    return float(problem.distances(edges[:, 0], edges[:, 1]).sum())


def _metric_points(problem: Problem) -> tuple[np.ndarray, float] | None:
    """Points and Minkowski p whose KD-tree neighbours approximate the problem's nearest."""
    kind = problem.edge_weight_type
    if problem.coords is None:
        return None
    if kind == "GEO":
        lat, lon = geo_radians(problem.coords).T
        return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)],
                        axis=1), 2.0
    p = 1.0 if kind.startswith("MAN") else math.inf if kind.startswith("MAX") else 2.0
    return problem.coords, p


def candidate_edges(problem: Problem, k: int, tour: np.ndarray | None,
                    exact_max_n: int = 2000) -> np.ndarray:
    """k nearest neighbours (exact up to ``exact_max_n`` nodes, else by KD-tree when there are
    coordinates), Delaunay edges in the plane, and the given tour's edges."""
    n = problem.n
    k = min(k, n - 1)
    pts = _metric_points(problem)
    if pts is None or n <= exact_max_n:
        nbr = np.empty((n, k), dtype=np.int64)
        step = max(1, _BLOCK // n)
        for lo in range(0, n, step):
            r = np.arange(lo, min(n, lo + step))
            d = problem.distances(r[:, None], np.arange(n)[None, :]).astype(float)
            d[np.arange(len(r)), r] = np.inf
            nbr[lo : lo + step] = np.argpartition(d, k - 1, axis=1)[:, :k]
    else:
        _, idx = cKDTree(pts[0]).query(pts[0], k + 1, p=pts[1])
        rr, cc = np.nonzero(idx == np.arange(n)[:, None])
        idx[rr, cc] = idx[rr, -1]          # drop self wherever duplicates put it
        nbr = idx[:, :k]
    parts = [np.stack([np.repeat(np.arange(n), k), nbr.ravel()], axis=1)]
    if pts is not None and pts[0].shape[1] == 2 and n > 3:
        try:
            indptr, indices = Delaunay(pts[0]).vertex_neighbor_vertices
            parts.append(np.stack([np.repeat(np.arange(n), np.diff(indptr)), indices], axis=1))
        except QhullError:
            pass
    if tour is not None:
        t = np.asarray(tour, dtype=np.int64)
        parts.append(np.stack([t, np.roll(t, -1)], axis=1))
    return np.vstack(parts)


class _SparseGraph:
    """Candidate graph; its 1-tree is an MST by scipy plus the best leaf's second edge."""

    def __init__(self, problem: Problem, edges: np.ndarray) -> None:
        self.problem = problem
        self.n = problem.n
        self.nodes = np.arange(self.n)
        self.ei = np.empty(0, dtype=np.int64)
        self.ej = np.empty(0, dtype=np.int64)
        self.add(edges)

    def add(self, edges: np.ndarray) -> None:
        """Add edges, keep the graph connected, and rebuild the CSR and adjacency arrays."""
        n = self.n
        a = np.concatenate([self.ei, np.minimum(edges[:, 0], edges[:, 1])])
        b = np.concatenate([self.ej, np.maximum(edges[:, 0], edges[:, 1])])
        keys = np.unique(a[a != b] * n + b[a != b])
        ei, ej = keys // n, keys % n
        ncomp, lab = connected_components(csr_matrix((np.ones(len(ei)), (ei, ej)), (n, n)),
                                          directed=False)
        if ncomp > 1:        # chain one node of each component: crude, but keeps an MST
            reps = np.unique(lab, return_index=True)[1]
            self.add(np.stack([reps[:-1], reps[1:]], axis=1).astype(np.int64))
            return
        self.ei, self.ej = ei, ej
        self.d = self.problem.distances(ei, ej).astype(float)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(ei, minlength=n))])
        self.csr = csr_matrix((self.d.copy(), ej, indptr), shape=(n, n))
        # padded incident-edge lists (nearest first) for the extra edge of the 1-tree
        src = np.concatenate([ei, ej])
        dst = np.concatenate([ej, ei])
        dd = np.concatenate([self.d, self.d])
        order = np.lexsort((dd, src))
        src, dst, dd = src[order], dst[order], dd[order]
        start = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=n))])[src]
        rank = np.arange(len(src)) - start
        keep = rank < _ADJ_WIDTH
        self.adj = np.full((n, _ADJ_WIDTH), 0, dtype=np.int64)
        self.adj_d = np.full((n, _ADJ_WIDTH), np.inf)
        self.adj[src[keep], rank[keep]] = dst[keep]
        self.adj_d[src[keep], rank[keep]] = dd[keep]

    def one_tree(self, pi: np.ndarray) -> _OneTree:
        n = self.n
        w = self.d + pi[self.ei] + pi[self.ej]
        shift = 1.0 - w.min()                     # scipy drops zero weights: keep all > 0
        self.csr.data = w + shift
        tree = minimum_spanning_tree(self.csr)
        a = np.repeat(self.nodes, np.diff(tree.indptr))
        b = tree.indices
        deg = np.bincount(a, minlength=n) + np.bincount(b, minlength=n)
        tnb = np.empty(n, dtype=np.int64)
        tnb[a], tnb[b] = b, a                # only read for leaves, whose neighbour is unique
        leaves = np.flatnonzero(deg == 1)
        nbr = self.adj[leaves]
        wl = self.adj_d[leaves] + pi[nbr] + pi[leaves, None]
        wl[nbr == tnb[leaves, None]] = np.inf
        col = wl.argmin(axis=1)
        second = wl[np.arange(len(leaves)), col]
        best = int(np.argmax(np.where(np.isfinite(second), second, -np.inf)))
        # d(T) = w(T) - sum(pi * tree degree); the extra edge adds its own real length
        length = float(tree.data.sum()) - shift * (n - 1) - float(np.sum(pi * deg))
        length += float(self.adj_d[leaves[best], col[best]])
        deg[leaves[best]] += 1
        deg[nbr[best, col[best]]] += 1
        return _OneTree(length, deg, np.empty((0, 2), dtype=np.int64))


class _Ascent:
    """LKH's subgradient schedule over a sparse graph, with exact checks on the complete one."""

    def __init__(self, problem: Problem, rows: _Rows | None, t0: float, deadline: float,
                 on_progress: Callable[[LowerBound], None] | None) -> None:
        self.problem, self.rows, self.t0, self.deadline = problem, rows, t0, deadline
        self.on_progress = on_progress
        self.graph: _SparseGraph | None = None
        self.sparse_s = 0.0              # wall time spent in sparse 1-trees
        self.iterations = 0
        self.proven = -math.inf          # best exact L(pi) seen (valid for any pi)
        self.dense_cost = 0.0
        self.checked: np.ndarray | None = None   # the pi of the last exact check
        self.best_w = -math.inf                  # best sparse L(pi), at best_pi
        self.best_pi = np.zeros(problem.n)

    def check(self, pi: np.ndarray, deadline: float) -> _OneTree | None:
        """Evaluate L(pi) exactly, keep the best, and teach the graph the 1-tree's edges."""
        if self.rows is None:
            return None
        t = time.monotonic()
        tree = _dense_one_tree(self.rows, pi, deadline)
        self.dense_cost = max(self.dense_cost, time.monotonic() - t)
        if tree is None:
            return None
        self.checked = pi.copy()
        value = tree.bound(pi)
        if value > self.proven:
            self.proven = value
            if self.on_progress is not None:
                self.on_progress(self.result(proven=True, value=value))
        if self.graph is not None:
            self.graph.add(tree.edges)
        return tree

    def result(self, proven: bool, value: float) -> LowerBound:
        if proven:     # allow for float rounding in the sums; integral optima round up
            value -= 1e-9 * abs(value) + 1e-9
            if self.problem.is_integral:
                value = float(math.ceil(value))
        return LowerBound(value=value, proven=proven, iterations=self.iterations,
                          elapsed_s=time.monotonic() - self.t0,
                          method=METHOD_DENSE if proven else METHOD_SPARSE)

    def out_of_time(self) -> bool:
        reserve = 1.5 * self.dense_cost if self.rows is not None else 0.0
        return time.monotonic() + reserve > self.deadline

    def fit(self, period: int, factor: float, done: int = 0) -> int:
        """Shorten ``period`` so that its remaining iterations (``done`` are done) and
        ``factor - 1`` more periods of sparse iterations fit in the budget."""
        left = self.deadline - time.monotonic() - 1.5 * self.dense_cost
        if self.rows is not None:
            left *= 0.8                          # exact checks take up to a fifth
        iterations = left / max(self.sparse_s / max(self.iterations, 1), 1e-6)
        return int(min(period, max(done, 1, (iterations + done) / factor)))

    def one_tree(self, pi: np.ndarray) -> _OneTree:
        assert self.graph is not None
        t = time.monotonic()
        tree = self.graph.one_tree(pi)
        self.sparse_s += time.monotonic() - t
        self.iterations += 1
        return tree

    def run(self, upper: float) -> np.ndarray:
        """Repeat the schedule from the best penalties while it pays and the budget lasts."""
        n = self.problem.n
        pi = np.zeros(n)
        self.best_w, self.best_pi = self.one_tree(pi).bound(pi), pi
        scale = max(self.best_w, 1e-9) / n            # mean 1-tree edge
        while True:
            before = self.best_w
            if not self.schedule(_FIRST_STEP * scale, 1e-5 * scale, upper):
                break
            if self.best_w <= before + 1e-6 * abs(before):
                break
        return self.best_pi

    def schedule(self, step: float, min_step: float, upper: float) -> bool:
        """One LKH ascent from ``best_pi``; False when cut short by the budget or the bound."""
        pi = self.best_pi.copy()
        tree = self.one_tree(pi)
        v = last_v = tree.deg - 2
        # LKH starts with n/2; long first periods pay on clustered instances, given time
        initial_period = period = self.fit(max(4 * self.problem.n, 100), 3.0)
        initial_phase = True
        last_report = since_check = time.monotonic()
        while period > 0 and step > min_step:
            p = 1
            while p <= period:
                if self.out_of_time() or not np.any(v) or self.best_w >= upper:
                    return False
                moving = v != 0
                pi[moving] += step * (0.7 * v[moving] + 0.3 * last_v[moving])
                last_v = v
                tree = self.one_tree(pi)
                v = tree.deg - 2
                w = tree.bound(pi)
                if w > self.best_w + 1e-12 * abs(self.best_w):
                    self.best_w, self.best_pi = w, pi.copy()
                    if initial_phase:
                        step *= 2
                    if p == period:
                        period = min(2 * period, initial_period)
                elif initial_phase and p > period // 2:
                    initial_phase, p, step = False, 0, 0.75 * step
                p += 1
                if p % 32 == 0:                  # re-fit as the iteration cost is learnt
                    period = initial_period = min(initial_period, self.fit(period, 2.0, p))
                if self.rows is None and self.on_progress and time.monotonic() > last_report + 1:
                    last_report = time.monotonic()
                    self.on_progress(self.result(proven=False, value=self.best_w))
            period, step = self.fit(period // 2, 2.0) if period > 1 else 0, step / 2
            if time.monotonic() - since_check > 4 * self.dense_cost:
                since_check = time.monotonic()
                self.recheck()
        return True

    def recheck(self) -> None:
        """Exact check of ``best_pi``; if the graph lacked edges, re-base the ascent on it."""
        if self.rows is None or time.monotonic() + 3 * self.dense_cost > self.deadline:
            return
        exact = self.check(self.best_pi, self.deadline)
        if exact is not None and exact.bound(self.best_pi) < self.best_w:
            self.best_w = self.one_tree(self.best_pi).bound(self.best_pi)


def held_karp_bound(problem: Problem, time_budget_s: float = 10.0, *, seed: int = 0,
                    initial_upper: float | None = None, tour: np.ndarray | None = None,
                    sparse: bool | None = None,
                    on_progress: Callable[[LowerBound], None] | None = None) -> LowerBound:
    """Held–Karp lower bound of ``problem`` within ``time_budget_s`` wall seconds.

    ``proven=True`` means ``value`` is a valid lower bound (rounded up for integral problems);
    otherwise it is an estimate over a sparse candidate graph (``sparse=True``, or more than
    ``DENSE_MAX_N`` nodes). ``initial_upper`` (a known tour length) stops the ascent once the
    bound reaches it; ``tour`` adds that tour's edges to the candidate graph. There is no
    randomness (``seed`` is accepted for the units' common signature), but the schedule is
    fitted to the budget, so the value depends on the machine's speed.
    """
    del seed
    t0 = time.monotonic()
    deadline = t0 + max(0.0, time_budget_s)
    n = problem.n
    dense = n <= DENSE_MAX_N if sparse is None else not sparse
    upper = math.inf if initial_upper is None else float(initial_upper)
    if problem.is_integral and initial_upper is not None:
        upper -= 1.0 - 1e-6     # an integral bound above upper - 1 rounds up to upper
    rows = _Rows(problem, MATRIX_BUDGET_BYTES, t0 + 0.25 * time_budget_s) if dense else None
    ascent = _Ascent(problem, rows, t0, deadline, on_progress)
    edges = candidate_edges(problem, _NEIGHBOURS, tour)
    first = ascent.check(np.zeros(n), t0 + 0.5 * max(0.0, time_budget_s))
    if first is None:
        ascent.rows = None
    elif not np.any(first.deg - 2):
        return ascent.result(proven=True, value=ascent.proven)   # the 1-tree is a tour
    else:
        edges = np.vstack([edges, first.edges])
    ascent.graph = _SparseGraph(problem, edges)
    best_pi = ascent.run(upper)
    if ascent.rows is None:
        return ascent.result(proven=False, value=ascent.graph.one_tree(best_pi).bound(best_pi))
    if ascent.checked is None or not np.array_equal(ascent.checked, best_pi):
        ascent.check(best_pi, deadline)
    return ascent.result(proven=True, value=ascent.proven)
