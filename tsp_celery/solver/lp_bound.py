"""The TSP's LP relaxation over a sparse edge set, and a bound from its duals valid over all edges.

The LP has one variable x_e in [0, 1] per *working* edge (a tour's edges and nearest
neighbours at first), the degree equations x(delta(v)) = 2 and the cuts of ``solver.cuts``,
and is solved by HiGHS (``highspy``, warm-started). A branch may set a subtour row to
x(delta(S)) = 2 (its dual may then be negative) or >= 4 (``rhs`` 4). Its objective is not
trusted: for *any* node duals pi and cut duals mu >= 0 (any sign on a row held at equality),
every tour x satisfying the rows satisfies
``c x = sum 2 pi + sum rhs mu + rc x >= sum 2 pi + sum rhs mu + sum_e min(0, rc_e)``
with ``rc_e = c_e - pi_u - pi_v - sum mu_k coef_k(e)``, over *all* edges (Lagrangian duality).
So the duals are rounded to fixed point (2**-20) and that sum is taken in integers over the
whole edge pool (the complete graph, or what reduced-cost elimination left): an exact bound,
whatever the LP's tolerances. Edges of the pool with negative reduced cost join the LP
(pricing), so the LP value and the exact bound meet. Only edges shorter than the sum of their
ends' duals (node dual plus the positive cut duals of the sets holding it) can price below
zero, so that sum is taken over those alone: found in the listed pool by one comparison, and
in the unlisted complete graph of a large instance (``CompletePool``) by a KD-tree or a row scan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import highspy
import numpy as np
from scipy.sparse import csr_matrix, vstack
from scipy.spatial import cKDTree

from tsp_celery.problem import Problem
from tsp_celery.solver.cuts import Cut, coefficient_matrix, smaller_side
from tsp_celery.solver.quiet import quiet_stdout

SCALE = 2**20
_PRICE_LIMIT = 200              # edges priced in per round, most negative first
_NO_LIMIT = 2**31 - 1          # HiGHS's default simplex iteration limit
_SIDE_BOUNDS = {2: (2.0, 2.0), 4: (4.0, highspy.kHighsInf)}  # a branch's row bounds per side
_BLOCK = 2**21                  # matrix entries per block when scanning rows
# Dual simplex, serial (PAMI ignores a loaded basis), no presolve (it would drop the basis).
_OPTIONS = {"output_flag": False, "presolve": "off", "solver": "simplex",
            "simplex_strategy": 1, "threads": 1}


@dataclass
class LpSolution:
    x: np.ndarray                # one value per working edge
    pi: np.ndarray               # node duals, scaled integers
    mu: np.ndarray               # cut duals, scaled integers (< 0 only on a row capped at 2)
    rhs: np.ndarray              # per cut row, the bound its dual multiplies (row's lower
    #                              bound where mu >= 0, its upper bound where mu < 0)
    value: float                 # the LP's objective (floating point: no bound)


class EdgePool:
    """Edges a better tour may use (all pairs, shrunk by elimination) with integer lengths."""

    listable = True

    def __init__(self, n: int, u: np.ndarray, v: np.ndarray, cost: np.ndarray) -> None:
        self.n, self.u, self.v, self.cost = n, u, v, cost.astype(np.int64)

    def keep(self, mask: np.ndarray) -> None:
        self.u, self.v, self.cost = self.u[mask], self.v[mask], self.cost[mask]

    def keys(self) -> np.ndarray:
        return self.u * self.n + self.v

    def holds(self, keys: np.ndarray) -> np.ndarray:
        return np.isin(keys, self.keys())

    def cost_of(self, keys: np.ndarray) -> np.ndarray:
        return self.cost[np.searchsorted(self.keys(), keys)]

    def candidates(self, reach: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The edges u-v shorter than ``(reach[u] + reach[v]) / SCALE``, the only ones whose
        reduced cost ``c - reach[u] - reach[v] + (>= 0)`` can be negative."""
        near = self.cost * SCALE < reach[self.u] + reach[self.v]
        return self.u[near], self.v[near], self.cost[near]


class CompletePool:
    """Every pair of a large problem, never listed: the edges whose reduced cost may be
    negative are found per dual solution, by a KD-tree where rounding keeps lengths within
    1/2 of the Euclidean distance, else by scanning the rows in blocks. Nothing is eliminated."""

    listable = False
    _ROUNDED_EUCLIDEAN = ("EUC_2D", "CEIL_2D")

    def __init__(self, problem: Problem) -> None:
        self.problem, self.n = problem, problem.n
        self.tree = (cKDTree(problem.coords) if problem.coords is not None
                     and problem.edge_weight_type in self._ROUNDED_EUCLIDEAN else None)

    def holds(self, keys: np.ndarray) -> np.ndarray:
        return np.ones(len(keys), dtype=bool)

    def cost_of(self, keys: np.ndarray) -> np.ndarray:
        return np.asarray(self.problem.distances(keys // self.n, keys % self.n), dtype=np.int64)

    def candidates(self, reach: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A superset of the edges u-v with length below ``(reach[u] + reach[v]) / SCALE``,
        the only ones whose reduced cost ``c - reach[u] - reach[v] + (>= 0)`` can be negative."""
        n, r = self.n, reach / SCALE
        if self.tree is not None:    # the larger reach finds the edge: c < 2 max(r_u, r_v)
            lists = self.tree.query_ball_point(self.problem.coords, np.maximum(2 * r, 0) + 1.0,
                                               return_sorted=False)
            a = np.repeat(np.arange(n), [len(x) for x in lists])
            b = np.fromiter((j for x in lists for j in x), dtype=np.int64, count=len(a))
        else:
            parts = []
            step = max(1, _BLOCK // n)
            for lo in range(0, n, step):
                rows = np.arange(lo, min(n, lo + step))
                d = self.problem.distances(rows[:, None], np.arange(n)[None, :])
                ra, rb = np.nonzero(d < r[rows, None] + r[None, :] + 1.0)
                parts.append(np.stack([rows[ra], rb]))
            a, b = np.concatenate(parts, axis=1) if parts else np.zeros((2, 0), dtype=np.int64)
        keys = np.unique(np.minimum(a, b)[a != b] * n + np.maximum(a, b)[a != b])
        return keys // n, keys % n, self.cost_of(keys)


class EdgeLP:
    """Working edges ``u < v`` (keys u * n + v, in column order), their lengths, the global cut
    list, and one HiGHS model kept across solves, so each re-solve starts from the last basis
    (dual simplex: new cuts and changed bounds cost a few iterations, not a cold solve)."""

    def __init__(self, n: int, pool: EdgePool | CompletePool, working: np.ndarray) -> None:
        self.n, self.pool = n, pool
        self.cuts: list[Cut] = []
        self.cut_keys: dict[tuple, int] = {}     # cut key -> its index in ``cuts``
        self.row_sides: dict[int, int] = {}      # cut index -> parity side set by ``solve``
        with quiet_stdout():                 # HiGHS prints a banner on its first model
            self.highs = highspy.Highs()
        for option, value in _OPTIONS.items():
            self.highs.setOptionValue(option, value)
        self.highs.addRows(n, np.full(n, 2.0), np.full(n, 2.0), 0,
                           np.zeros(n, dtype=np.int32), np.zeros(0, dtype=np.int32),
                           np.zeros(0))
        self.keys = np.zeros(0, dtype=np.int64)
        self.cost = np.zeros(0, dtype=np.int64)
        self.lower = self.upper = np.zeros(0)      # column bounds of the last solve
        self.add_edges(working)

    def _columns(self, keys: np.ndarray) -> np.ndarray:
        """The column of each working edge key."""
        order = np.argsort(self.keys)
        return order[np.searchsorted(self.keys, keys, sorter=order)]

    def add_edges(self, keys: np.ndarray) -> None:
        """Add the pool's edges among ``keys`` that are not columns yet."""
        keys = np.unique(keys)
        keys = keys[self.pool.holds(keys) & ~np.isin(keys, self.keys)]
        if len(keys) == 0:
            return
        u, v = keys // self.n, keys % self.n
        cost = self.pool.cost_of(keys)
        m = len(keys)
        degree = csr_matrix((np.ones(2 * m), (np.concatenate([u, v]), np.tile(np.arange(m), 2))),
                            shape=(self.n, m))
        column = vstack([degree, coefficient_matrix(self.cuts, self.n, u, v)]).tocsc()
        self.highs.addCols(m, cost.astype(float), np.zeros(m), np.ones(m), column.nnz,
                           column.indptr[:-1].astype(np.int32),
                           column.indices.astype(np.int32), column.data.astype(float))
        self.keys = np.concatenate([self.keys, keys])
        self.cost = np.concatenate([self.cost, cost])
        self.u, self.v = self.keys // self.n, self.keys % self.n

    def drop_eliminated(self) -> None:
        """Forget working edges the pool no longer holds (after elimination)."""
        self._drop(np.flatnonzero(~self.pool.holds(self.keys)))

    def narrow(self, x: np.ndarray, keep: np.ndarray) -> None:
        """Drop the working edges at zero in the last solution ``x`` that are neither basic nor
        among the keys ``keep``: after the LP took in the whole pool to become feasible, its
        solves would otherwise cost a column per pair (pricing brings back what it needs)."""
        basic = np.fromiter((status == highspy.HighsBasisStatus.kBasic
                             for status in self.highs.getBasis().col_status),
                            dtype=bool, count=len(self.keys))
        self._drop(np.flatnonzero((x <= 0) & ~basic & ~np.isin(self.keys, keep)))

    def _drop(self, gone: np.ndarray) -> None:
        """Delete the columns ``gone`` (their keys, lengths and HiGHS columns)."""
        if len(gone):
            self.highs.deleteCols(len(gone), gone.astype(np.int32))
            self.keys = np.delete(self.keys, gone)
            self.cost = np.delete(self.cost, gone)
            self.u, self.v = self.keys // self.n, self.keys % self.n

    def add_cuts(self, cuts: list[Cut]) -> int:
        """Add the cuts not in the LP yet; how many were added."""
        new: list[Cut] = []
        for cut in cuts:
            if cut.key() not in self.cut_keys:
                self.cut_keys[cut.key()] = len(self.cuts) + len(new)
                new.append(cut)
        if new:
            rows = coefficient_matrix(new, self.n, self.u, self.v)
            rows.eliminate_zeros()
            rhs = np.array([c.rhs for c in new], dtype=float)
            self.highs.addRows(len(new), rhs, np.full(len(new), highspy.kHighsInf), rows.nnz,
                               rows.indptr[:-1].astype(np.int32), rows.indices.astype(np.int32),
                               rows.data.astype(float))
            self.cuts += new
        return len(new)

    def subtour_row(self, nodes: np.ndarray) -> int:
        """The index of the subtour cut x(delta(nodes)) >= 2, added when not in the LP yet."""
        cut = Cut((smaller_side(self.n, nodes),), 2)
        self.add_cuts([cut])
        return self.cut_keys[cut.key()]

    def _set_sides(self, sides: dict[int, int]) -> None:
        """Subtour rows ``k -> 2`` become x(delta(S)) = 2, ``k -> 4`` x(delta(S)) >= 4 (every
        tour crosses S an even number of times); rows no longer named get back ``>= 2``."""
        for k in set(self.row_sides) | set(sides):
            self.highs.changeRowBounds(self.n + k, *self._row_bounds(k, sides))
        self.row_sides = dict(sides)

    def _row_bounds(self, k: int, sides: dict[int, int]) -> tuple[float, float]:
        """Cut row ``k``'s bounds: its parity side's in ``sides``, else ``>= rhs``."""
        return _SIDE_BOUNDS.get(sides.get(k, 0), (self.cuts[k].rhs, highspy.kHighsInf))

    def solve(self, fixed: dict[int, int], sides: dict[int, int] | None = None
              ) -> LpSolution | None:
        """The LP with edges fixed (key -> 0 or 1) and subtour rows on a parity side (cut
        index -> 2 or 4); None when it is infeasible (confirmed by a cold solve, so a stale
        basis never prunes a node)."""
        if sides is not None or self.row_sides:
            self._set_sides(sides or {})
        m = len(self.keys)
        lo, hi = np.zeros(m), np.ones(m)
        if fixed:
            pos = self._columns(np.fromiter(fixed, dtype=np.int64))
            lo[pos] = hi[pos] = np.fromiter(fixed.values(), dtype=float)
        self.highs.changeColsBounds(m, np.arange(m, dtype=np.int32), lo, hi)
        self.lower, self.upper = lo, hi
        for attempt in range(2):
            self.highs.run()
            if self.highs.getModelStatus() == highspy.HighsModelStatus.kOptimal:
                break
            if attempt == 0:
                self.highs.clearSolver()
        else:
            return None
        solution = self.highs.getSolution()
        dual = np.asarray(solution.row_dual)
        pi = np.round(dual[: self.n] * SCALE).astype(np.int64)
        rhs = np.array([c.rhs for c in self.cuts], dtype=np.int64)
        capped = np.zeros(len(self.cuts), dtype=bool)
        for k, side in self.row_sides.items():
            rhs[k] = _SIDE_BOUNDS[side][0]
            capped[k] = side == 2
        mu = np.round(np.where(capped, dual[self.n :], np.maximum(dual[self.n :], 0.0))
                      * SCALE).astype(np.int64)     # below zero only where the row is capped
        return LpSolution(np.asarray(solution.col_value), pi, mu, rhs,
                          self.highs.getInfo().objective_function_value)

    def probe(self, column: int, value: float, iterations: int) -> float:
        """The LP value (a dual estimate, after at most ``iterations`` simplex iterations) with
        ``column`` fixed to ``value``; inf when infeasible. Bounds and basis are restored."""
        h = self.highs
        h.changeColBounds(column, value, value)
        out = self._limited_run(iterations)
        h.changeColBounds(column, self.lower[column], self.upper[column])
        return out

    def probe_side(self, row: int, side: int, iterations: int) -> float:
        """Like ``probe``, with the subtour row ``row`` on parity side ``side`` (2 or 4)."""
        self.highs.changeRowBounds(self.n + row, *_SIDE_BOUNDS[side])
        out = self._limited_run(iterations)
        self.highs.changeRowBounds(self.n + row, *self._row_bounds(row, self.row_sides))
        return out

    def _limited_run(self, iterations: int) -> float:
        """The LP value after at most ``iterations`` dual simplex iterations from the current
        basis (inf when infeasible); the basis is restored afterwards."""
        h = self.highs
        basis = h.getBasis()
        h.setOptionValue("simplex_iteration_limit", iterations)
        h.run()
        status = h.getModelStatus()
        out = (math.inf if status == highspy.HighsModelStatus.kInfeasible
               else h.getInfo().objective_function_value)
        h.setOptionValue("simplex_iteration_limit", _NO_LIMIT)
        h.setBasis(basis)
        return out

    def _cut_weights(self, mu: np.ndarray) -> tuple[np.ndarray, csr_matrix | None]:
        """Per node, the weight ``mu`` of the live cut sets holding it; and the weight of the
        sets holding both ends of each pair (sparse, None without live cuts)."""
        live = np.flatnonzero(mu != 0)
        if not len(live):
            return np.zeros(self.n, dtype=np.int64), None
        sets = [(s, int(mu[k])) for k in live for s in self.cuts[k].sets]
        rows = np.concatenate([s for s, _ in sets])
        cols = np.repeat(np.arange(len(sets)), [len(s) for s, _ in sets])
        member = csr_matrix((np.ones(len(rows), dtype=np.int64), (rows, cols)),
                            shape=(self.n, len(sets)))
        weight = np.array([w for _, w in sets], dtype=np.int64)
        return member @ weight, (member.multiply(weight[None, :]).tocsr() @ member.T).tocsr()

    def reduced_costs(self, sol: LpSolution, u: np.ndarray, v: np.ndarray,
                      cost: np.ndarray) -> np.ndarray:
        """Exact scaled reduced costs of edges ``u``-``v`` under the solution's duals."""
        node_sum, both = self._cut_weights(sol.mu)
        rc = cost * SCALE - sol.pi[u] - sol.pi[v] - node_sum[u] - node_sum[v]
        if both is not None and 8 * len(u) > self.n**2:   # most pairs: dense lookup is faster
            rc += 2 * both.toarray()[u, v]
        elif both is not None and len(u):
            rc += 2 * np.asarray(both[u, v]).ravel()
        return rc

    def exact_bound(self, sol: LpSolution,
                    fixed: dict[int, int]) -> tuple[int, np.ndarray, np.ndarray]:
        """The scaled integer bound over the whole pool (fixed working edges counted at their
        value), and the keys and reduced costs of the pool's edges priced below zero."""
        # a negative dual only raises reduced costs: the positive ones bound what can go below 0
        node_sum, _ = self._cut_weights(np.maximum(sol.mu, 0))
        u, v, cost = self.pool.candidates(sol.pi + node_sum)
        rc = self.reduced_costs(sol, u, v, cost)
        negative = rc < 0
        total = 2 * int(sol.pi.sum()) + int((sol.rhs * sol.mu).sum()) + int(rc[negative].sum())
        if fixed:           # x_e = 1 counts rc_e whatever its sign, x_e = 0 counts nothing
            keys = np.fromiter(fixed, dtype=np.int64)
            val = np.fromiter(fixed.values(), dtype=np.int64)
            rc_fixed = self.reduced_costs(sol, keys // self.n, keys % self.n,
                                          self.pool.cost_of(keys))
            total += int((rc_fixed * val - np.minimum(rc_fixed, 0)).sum())
        return total, (u * self.n + v)[negative], rc[negative]

    def price(self, keys: np.ndarray, rc: np.ndarray) -> int:
        """Add the edges ``keys`` (reduced costs ``rc`` < 0) not in the LP yet, most negative
        first; how many were added."""
        out = np.flatnonzero(~np.isin(keys, self.keys))
        if len(out) == 0:
            return 0
        out = out[np.argsort(rc[out])[:_PRICE_LIMIT]]
        self.add_edges(keys[out])
        return len(out)


def ceil_div(total: int, scale: int = SCALE) -> int:
    """The smallest integer at least ``total / scale`` (exact)."""
    return -((-total) // scale)
