"""Tightening the LP's combs (Concorde's ``tighten``), one node moved at a time.

Nodes move in and out of a comb's sets while each move lowers the comb's left side at ``x``. A
move is allowed only when the sets still form a comb (the teeth stay disjoint and each keeps a
node in the handle and one outside it), so the rhs 3t + 1 stays valid for every tour. Cuts
nearly tight at ``x`` are the ones worth it: a few moves make them violated again, a different
cut that the separators would not find from scratch.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix

from tsp_celery.solver.cuts import Cut, coefficient_matrix, violated

_MAX_SLACK = 0.5  # pool combs within this of tight are tightened
_MAX_MOVES = 50  # moves per comb
_GAIN = 1e-6


def is_comb(cut: Cut) -> bool:
    """A handle and an odd number (at least 3) of pairwise disjoint teeth, each meeting the
    handle and its outside, with rhs 3t + 1 (exact blossoms may share nodes between teeth:
    valid as they are, but not combs to move nodes in)."""
    handle, *teeth = cut.sets
    t = len(teeth)
    if t < 3 or t % 2 == 0 or cut.rhs != 3 * t + 1:
        return False
    ends = np.concatenate(teeth)
    if len(np.unique(ends)) != len(ends):
        return False
    starts = np.cumsum([0] + [len(tooth) for tooth in teeth[:-1]])
    inner = np.add.reduceat(np.isin(ends, handle).astype(np.int64), starts)
    return bool(((inner > 0) & (inner < [len(tooth) for tooth in teeth])).all())


def support_graph(n: int, u: np.ndarray, v: np.ndarray, x: np.ndarray) -> csr_matrix:
    """The symmetric n x n matrix of x over its support."""
    on = x > 1e-9
    graph = csr_matrix(
        (
            np.concatenate([x[on], x[on]]),
            (np.concatenate([u[on], v[on]]), np.concatenate([v[on], u[on]])),
        ),
        shape=(n, n),
    )
    graph.sum_duplicates()
    return graph


def tighten(cut: Cut, graph: csr_matrix) -> Cut | None:
    """The comb after the best single-node moves, while each lowers its left side; None when
    no move does. ``graph`` is the support graph of x (symmetric)."""
    n, m = graph.shape[0], len(cut.sets)
    member = np.zeros((n, m), dtype=bool)
    for j, s in enumerate(cut.sets):
        member[s, j] = True
    weight = np.asarray(graph @ member.astype(float))  # x(v : S_j)
    moved = False
    for _ in range(_MAX_MOVES):
        # adding v to S changes x(delta(S)) by 2 - 2 x(v:S), removing it by 2 x(v:S) - 2
        delta = np.where(member, 2 * weight - 2, 2 - 2 * weight)
        handle, teeth = member[:, 0], member[:, 1:]
        inner = (teeth & handle[:, None]).sum(axis=0)  # |T_i & H|, |T_i - H|
        outer = teeth.sum(axis=0) - inner
        tooth = np.where(teeth.any(axis=1), teeth.argmax(axis=1), -1)
        has = tooth >= 0
        ok = np.ones((n, m), dtype=bool)
        # toggling v in H must leave v's tooth a node on the side v leaves
        side = np.where(handle, inner[np.maximum(tooth, 0)], outer[np.maximum(tooth, 0)])
        ok[:, 0] = ~has | (side >= 2)
        # a node joins a tooth only when in none; leaves it only when its side keeps a node
        ok[:, 1:] = ~teeth & ~has[:, None]
        ok[np.flatnonzero(has), 1 + tooth[has]] = side[has] >= 2
        delta[~ok] = np.inf
        best = int(np.argmin(delta))
        if delta.flat[best] > -_GAIN:
            break
        vertex, j = divmod(best, m)
        sign = -1.0 if member[vertex, j] else 1.0
        member[vertex, j] = not member[vertex, j]
        lo, hi = graph.indptr[vertex], graph.indptr[vertex + 1]
        weight[graph.indices[lo:hi], j] += sign * graph.data[lo:hi]
        moved = True
    if not moved:
        return None
    return Cut(tuple(np.flatnonzero(member[:, j]) for j in range(m)), cut.rhs)


def tightened_cuts(
    pool: list[Cut], n: int, u: np.ndarray, v: np.ndarray, x: np.ndarray
) -> list[Cut]:
    """The pool's combs within ``_MAX_SLACK`` of tight, tightened, when violated at ``x``."""
    combs = [c for c in pool if len(c.sets) >= 4 and c.rhs == 3 * len(c.sets) - 2]
    if not combs:
        return []
    slack = coefficient_matrix(combs, n, u, v) @ x - np.array([c.rhs for c in combs])
    graph = support_graph(n, u, v, x)
    found = [
        t
        for c, s in zip(combs, slack, strict=True)
        if s < _MAX_SLACK and is_comb(c) and (t := tighten(c, graph)) is not None
    ]
    return violated(found, n, u, v, x)
