"""The TSP's LP relaxation over a sparse edge set, and a bound from its duals valid over all edges.

The LP has one variable x_e in [0, 1] per *working* edge (a tour's edges and nearest
neighbours at first), the degree equations x(delta(v)) = 2 and the cuts of ``solver.cuts``,
and is solved by HiGHS (``scipy.optimize.linprog``). Its objective is not trusted: for *any*
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

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import csr_matrix

from tsp_celery.solver.cuts import Cut

SCALE = 2**20
_PRICE_LIMIT = 200              # edges priced in per round, most negative first


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
    """Working edges ``u < v`` (keys u * n + v), their lengths, and the global cut list."""

    def __init__(self, n: int, pool: EdgePool, working: np.ndarray) -> None:
        self.n, self.pool = n, pool
        keys = pool.keys(n)
        self.keys = np.unique(keys[np.isin(keys, working)])
        self.cuts: list[Cut] = []
        self.cut_keys: set[tuple] = set()
        self._rows: list[np.ndarray] = []      # each cut's coefficients over working edges
        self._refresh()

    def _refresh(self) -> None:
        self.u, self.v = self.keys // self.n, self.keys % self.n
        self.cost = self.pool.cost[np.searchsorted(self.pool.keys(self.n), self.keys)]
        m = len(self.keys)
        self.degree = csr_matrix((np.ones(2 * m), (np.concatenate([self.u, self.v]),
                                                   np.tile(np.arange(m), 2))), shape=(self.n, m))
        self._rows = [c.coefficients(self.n, self.u, self.v) for c in self.cuts]

    def add_edges(self, keys: np.ndarray) -> None:
        self.keys = np.union1d(self.keys, keys)
        self._refresh()

    def drop_eliminated(self) -> None:
        """Forget working edges the pool no longer holds (after elimination)."""
        self.keys = self.keys[np.isin(self.keys, self.pool.keys(self.n))]
        self._refresh()

    def add_cuts(self, cuts: list[Cut]) -> int:
        added = 0
        for cut in cuts:
            if cut.key() not in self.cut_keys:
                self.cut_keys.add(cut.key())
                self.cuts.append(cut)
                self._rows.append(cut.coefficients(self.n, self.u, self.v))
                added += 1
        return added

    def solve(self, fixed: dict[int, int]) -> LpSolution | None:
        """The LP with edges fixed (key -> 0 or 1); None when it is infeasible."""
        lo, hi = np.zeros(len(self.keys)), np.ones(len(self.keys))
        if fixed:
            pos = np.searchsorted(self.keys, np.fromiter(fixed, dtype=np.int64))
            val = np.fromiter(fixed.values(), dtype=float)
            lo[pos], hi[pos] = val, val
        a_ub = -csr_matrix(np.vstack(self._rows)) if self._rows else None
        b_ub = -np.array([c.rhs for c in self.cuts], dtype=float) if self.cuts else None
        res = linprog(self.cost.astype(float), A_ub=a_ub, b_ub=b_ub, A_eq=self.degree,
                      b_eq=np.full(self.n, 2.0), bounds=np.stack([lo, hi], axis=1),
                      method="highs-ds")
        if res.status != 0:
            return None
        pi = np.round(res.eqlin.marginals * SCALE).astype(np.int64)
        mu = (np.round(np.maximum(-res.ineqlin.marginals, 0.0) * SCALE).astype(np.int64)
              if self.cuts else np.zeros(0, dtype=np.int64))
        return LpSolution(np.asarray(res.x), pi, mu)

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
