"""The TSP's LP relaxation over a sparse edge set, and a bound from its duals valid over all edges.

The LP has one variable x_e in [0, 1] per *working* edge (a tour's edges and nearest
neighbours at first), the degree equations x(delta(v)) = 2 and the cuts of ``solver.cuts``,
and is solved by HiGHS (``highspy``, warm-started). Its objective is not trusted: for *any*
node duals pi and cut duals mu >= 0, every tour x satisfies
``c x = sum 2 pi + sum rhs mu + rc x >= sum 2 pi + sum rhs mu + sum_e min(0, rc_e)``
with ``rc_e = c_e - pi_u - pi_v - sum mu_k coef_k(e)``, over *all* edges (Lagrangian duality).
So the duals are rounded to fixed point (2**-20) and that sum is taken in integers over the
whole edge pool (the complete graph, or what reduced-cost elimination left): an exact bound,
whatever the LP's tolerances. Edges of the pool with negative reduced cost join the LP
(pricing), so the LP value and the exact bound meet.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np
from scipy.sparse import csr_matrix

from tsp_celery.solver.cuts import Cut
from tsp_celery.solver.quiet import quiet_stdout

SCALE = 2**20
_PRICE_LIMIT = 200              # edges priced in per round, most negative first
# Dual simplex, serial (PAMI ignores a loaded basis), no presolve (it would drop the basis).
_OPTIONS = {"output_flag": False, "presolve": "off", "solver": "simplex",
            "simplex_strategy": 1, "threads": 1}


@dataclass
class LpSolution:
    x: np.ndarray                # one value per working edge
    pi: np.ndarray               # node duals, scaled integers
    mu: np.ndarray               # cut duals (>= 0), scaled integers


class EdgePool:
    """Edges a better tour may use (all pairs, shrunk by elimination) with integer lengths."""

    def __init__(self, u: np.ndarray, v: np.ndarray, cost: np.ndarray) -> None:
        self.u, self.v, self.cost = u, v, cost.astype(np.int64)

    def keep(self, mask: np.ndarray) -> None:
        self.u, self.v, self.cost = self.u[mask], self.v[mask], self.cost[mask]

    def keys(self, n: int) -> np.ndarray:
        return self.u * n + self.v


class EdgeLP:
    """Working edges ``u < v`` (keys u * n + v, in column order), their lengths, the global cut
    list, and one HiGHS model kept across solves, so each re-solve starts from the last basis
    (dual simplex: new cuts and changed bounds cost a few iterations, not a cold solve)."""

    def __init__(self, n: int, pool: EdgePool, working: np.ndarray) -> None:
        self.n, self.pool = n, pool
        self.cuts: list[Cut] = []
        self.cut_keys: set[tuple] = set()
        with quiet_stdout():                 # HiGHS prints a banner on its first model
            self.highs = highspy.Highs()
        for option, value in _OPTIONS.items():
            self.highs.setOptionValue(option, value)
        self.highs.addRows(n, np.full(n, 2.0), np.full(n, 2.0), 0,
                           np.zeros(n, dtype=np.int32), np.zeros(0, dtype=np.int32),
                           np.zeros(0))
        self.keys = np.zeros(0, dtype=np.int64)
        self.add_edges(working)

    def _columns(self, keys: np.ndarray) -> np.ndarray:
        """The column of each working edge key."""
        order = np.argsort(self.keys)
        return order[np.searchsorted(self.keys, keys, sorter=order)]

    def add_edges(self, keys: np.ndarray) -> None:
        """Add the pool's edges among ``keys`` that are not columns yet."""
        pool_keys = self.pool.keys(self.n)
        keys = np.unique(keys)
        keys = keys[np.isin(keys, pool_keys) & ~np.isin(keys, self.keys)]
        if len(keys) == 0:
            return
        u, v = keys // self.n, keys % self.n
        cost = self.pool.cost[np.searchsorted(pool_keys, keys)]
        coef = np.array([c.coefficients(self.n, u, v) for c in self.cuts]).reshape(-1, len(keys))
        starts, index, value = [], [], []
        for j in range(len(keys)):
            rows = np.flatnonzero(coef[:, j])
            starts.append(len(index))
            index += [int(u[j]), int(v[j]), *(self.n + rows).tolist()]
            value += [1.0, 1.0, *coef[rows, j].tolist()]
        self.highs.addCols(len(keys), cost.astype(float), np.zeros(len(keys)),
                           np.ones(len(keys)), len(index), np.asarray(starts, dtype=np.int32),
                           np.asarray(index, dtype=np.int32), np.asarray(value))
        self.keys = np.concatenate([self.keys, keys])
        self.u, self.v = self.keys // self.n, self.keys % self.n

    def drop_eliminated(self) -> None:
        """Forget working edges the pool no longer holds (after elimination)."""
        gone = np.flatnonzero(~np.isin(self.keys, self.pool.keys(self.n)))
        if len(gone):
            self.highs.deleteCols(len(gone), gone.astype(np.int32))
            self.keys = np.delete(self.keys, gone)
            self.u, self.v = self.keys // self.n, self.keys % self.n

    def add_cuts(self, cuts: list[Cut]) -> int:
        added = 0
        for cut in cuts:
            if cut.key() not in self.cut_keys:
                self.cut_keys.add(cut.key())
                self.cuts.append(cut)
                coef = cut.coefficients(self.n, self.u, self.v)
                nz = np.flatnonzero(coef).astype(np.int32)
                self.highs.addRow(float(cut.rhs), highspy.kHighsInf, len(nz), nz, coef[nz])
                added += 1
        return added

    def solve(self, fixed: dict[int, int]) -> LpSolution | None:
        """The LP with edges fixed (key -> 0 or 1); None when it is infeasible (confirmed by
        a cold solve, so a stale basis never prunes a node)."""
        m = len(self.keys)
        lo, hi = np.zeros(m), np.ones(m)
        if fixed:
            pos = self._columns(np.fromiter(fixed, dtype=np.int64))
            lo[pos] = hi[pos] = np.fromiter(fixed.values(), dtype=float)
        self.highs.changeColsBounds(m, np.arange(m, dtype=np.int32), lo, hi)
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
        mu = np.round(np.maximum(dual[self.n :], 0.0) * SCALE).astype(np.int64)
        return LpSolution(np.asarray(solution.col_value), pi, mu)

    def reduced_costs(self, sol: LpSolution, u: np.ndarray, v: np.ndarray,
                      cost: np.ndarray) -> np.ndarray:
        """Exact scaled reduced costs of edges ``u``-``v`` under the solution's duals."""
        rc = cost * SCALE - sol.pi[u] - sol.pi[v]
        live = np.flatnonzero(sol.mu > 0)
        if len(live):
            sets = [(s, int(sol.mu[k])) for k in live for s in self.cuts[k].sets]
            rows = np.concatenate([s for s, _ in sets])
            cols = np.repeat(np.arange(len(sets)), [len(s) for s, _ in sets])
            member = csr_matrix((np.ones(len(rows), dtype=np.int64), (rows, cols)),
                                shape=(self.n, len(sets)))
            weight = np.array([w for _, w in sets], dtype=np.int64)
            node_sum = member @ weight
            both = (member.multiply(weight[None, :]).tocsr() @ member.T).toarray()
            rc -= node_sum[u] + node_sum[v] - 2 * both[u, v]
        return rc

    def exact_bound(self, sol: LpSolution, fixed: dict[int, int]) -> tuple[int, np.ndarray]:
        """The scaled integer bound over the whole pool (fixed working edges counted at their
        value) and the pool's reduced costs."""
        pool = self.pool
        rc = self.reduced_costs(sol, pool.u, pool.v, pool.cost)
        term = np.minimum(rc, 0)
        if fixed:
            where = np.searchsorted(pool.keys(self.n), np.fromiter(fixed, dtype=np.int64))
            val = np.fromiter(fixed.values(), dtype=np.int64)
            term[where] = rc[where] * val
        rhs = np.array([c.rhs for c in self.cuts], dtype=np.int64)
        total = 2 * int(sol.pi.sum()) + int((rhs * sol.mu).sum()) + int(term.sum())
        return total, rc

    def price(self, rc: np.ndarray) -> int:
        """Add the pool edges with the most negative reduced costs; how many were added."""
        keys = self.pool.keys(self.n)
        out = np.flatnonzero((rc < 0) & ~np.isin(keys, self.keys))
        if len(out) == 0:
            return 0
        out = out[np.argsort(rc[out])[:_PRICE_LIMIT]]
        self.add_edges(keys[out])
        return len(out)


def ceil_div(total: int, scale: int = SCALE) -> int:
    """The smallest integer at least ``total / scale`` (exact)."""
    return -((-total) // scale)
