"""Comb inequalities beyond blossoms: blossoms found on the support graph with its 1-paths shrunk.

Every 1-path (a component of the edges at x = 1) becomes one node, with x(delta) = 2 like any
node, so the shrunk graph keeps the degree equations and the blossom separators of
``solver.cuts`` apply to it unchanged. A blossom there is a comb of the original graph: its
handle is the union of the handle's paths, each tooth the two paths at the ends of a tooth
edge (a comb's teeth may be any sets meeting the handle and its outside). Kept when the teeth
are disjoint (odd in number, at least 3: the shrunk blossom has that already) and the comb is
violated at ``x``. Handles also come from the blocks (2-connected pieces) of the shrunk graph
and pairs of blocks sharing a cut node, as in Concorde's block combs, with the heaviest
disjoint crossing edges as teeth.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from tsp_celery.solver.cuts import (
    MIN_VIOLATION,
    Cut,
    blossom_cuts,
    exact_blossom_cuts,
    shrink_ones,
    violated,
)


def _expand(cut: Cut, label: np.ndarray) -> Cut | None:
    """The comb of the original graph a shrunk blossom stands for; None when its teeth meet."""
    handle, *teeth = cut.sets
    ends = np.concatenate(teeth)
    if len(np.unique(ends)) != len(ends):
        return None
    return Cut(
        (
            np.flatnonzero(np.isin(label, handle)),
            *(np.flatnonzero(np.isin(label, t)) for t in teeth),
        ),
        cut.rhs,
    )


def _blocks(k: int, a: np.ndarray, b: np.ndarray) -> list[frozenset[int]]:
    """The blocks (2-connected components, bridges included) of the graph on nodes 0..k-1 with
    edges ``a``-``b``: Hopcroft–Tarjan, iterative, with a stack of tree and back edges."""
    adjacent: list[list[int]] = [[] for _ in range(k)]
    for p, q in zip(a.tolist(), b.tolist(), strict=True):
        adjacent[p].append(q)
        adjacent[q].append(p)
    order, low = [-1] * k, [0] * k
    blocks: list[frozenset[int]] = []
    clock = 0
    for root in range(k):
        if order[root] >= 0:
            continue
        order[root] = low[root] = clock
        clock += 1
        stack = [(root, -1, iter(adjacent[root]))]
        edges: list[tuple[int, int]] = []
        while stack:
            node, parent, rest = stack[-1]
            for nxt in rest:
                if order[nxt] < 0:
                    edges.append((node, nxt))
                    order[nxt] = low[nxt] = clock
                    clock += 1
                    stack.append((nxt, node, iter(adjacent[nxt])))
                    break
                if nxt != parent and order[nxt] < order[node]:
                    edges.append((node, nxt))
                    low[node] = min(low[node], order[nxt])
            else:
                stack.pop()
                if stack:
                    above = stack[-1][0]
                    low[above] = min(low[above], low[node])
                    if low[node] >= order[above]:  # ``above`` cuts this block off
                        block: set[int] = set()
                        while True:
                            edge = edges.pop()
                            block.update(edge)
                            if edge == (above, node):
                                break
                        blocks.append(frozenset(block))
    return blocks


def _block_handles(k: int, a: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
    """Blocks of at least 3 nodes, and the unions of two blocks that share a cut node."""
    blocks = _blocks(k, a, b)
    handles = {blk for blk in blocks if len(blk) >= 3}
    holding: dict[int, list[int]] = {}
    for i, blk in enumerate(blocks):
        for node in blk:
            holding.setdefault(node, []).append(i)
    for owners in holding.values():
        for i, j in itertools.pairwise(owners):
            handles.add(blocks[i] | blocks[j])
    return [np.fromiter(h, dtype=np.int64) for h in handles if 3 <= len(h) <= k - 3]


def _teeth(inside: np.ndarray, a: np.ndarray, b: np.ndarray, y: np.ndarray) -> list[int] | None:
    """An odd number (at least 3) of disjoint crossing edges with the most weight above 1/2
    (each tooth e adds 1 - 2 y_e to the slack); None when there are too few."""
    crossing = np.flatnonzero(inside[a] != inside[b])
    used: set[int] = set()
    chosen: list[int] = []
    spare = None
    for e in crossing[np.argsort(-y[crossing])]:
        ends = {int(a[e]), int(b[e])}
        if used & ends:
            continue
        if y[e] > 0.5:
            chosen.append(int(e))
            used |= ends
        else:
            spare = int(e)
            break
    if len(chosen) % 2 == 0 and chosen:
        last = chosen[-1]
        if spare is not None and 1 - 2 * y[spare] < 2 * y[last] - 1:
            chosen.append(spare)
        else:
            chosen.pop()
    return chosen if len(chosen) >= 3 else None


def block_cuts(k: int, a: np.ndarray, b: np.ndarray, y: np.ndarray) -> list[Cut]:
    """Blossoms of the shrunk graph whose handles are blocks or pairs of blocks."""
    found = []
    for handle in _block_handles(k, a, b):
        inside = np.zeros(k, dtype=bool)
        inside[handle] = True
        teeth = _teeth(inside, a, b, y)
        if teeth is None:
            continue
        slack = y[inside[a] != inside[b]].sum() - 1 + sum(1 - 2 * y[e] for e in teeth)
        if slack < -MIN_VIOLATION:
            found.append(
                Cut(
                    (np.sort(handle), *(np.sort(np.array([a[e], b[e]])) for e in teeth)),
                    3 * len(teeth) + 1,
                )
            )
    return found


def comb_cuts(
    n: int,
    u: np.ndarray,
    v: np.ndarray,
    x: np.ndarray,
    *,
    exact: bool = False,
    deadline: float = math.inf,
) -> list[Cut]:
    """Violated combs from blossoms (heuristic, block and, if ``exact``, exact) of the shrunk
    graph."""
    k, label, a, b, y = shrink_ones(n, u, v, x)
    if k < 6 or k == n:
        shrunk = block_cuts(k, a, b, y) if k >= 6 else []
    else:
        shrunk = blossom_cuts(k, a, b, y) + block_cuts(k, a, b, y)
        if exact:
            shrunk += exact_blossom_cuts(k, a, b, y, deadline)
    combs = [c for c in (_expand(cut, label) for cut in shrunk) if c is not None]
    found = {c.key(): c for c in violated(combs, n, u, v, x)}
    return list(found.values())
