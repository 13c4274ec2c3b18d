"""Splicing sub-problem results back into a tour, as edge exchanges.

A result (see ``path``) names a node set's new internal edges. Splicing removes the set's
current internal edges and adds the new ones, but only when every node keeps its degree, the
exchange is shorter with exact lengths, and the tour stays one cycle. Results are applied one
by one, largest gain first, each against the tour as already changed, so stale, overlapping or
redelivered results are skipped instead of corrupting the tour.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from tsp_celery.problem.model import Problem
from tsp_celery.solver.path import SEPARATOR


class _Cycle:
    """A tour as adjacency pairs, changed by edge exchanges."""

    def __init__(self, tour: np.ndarray):
        self.n = len(tour)
        self.adj = np.empty((self.n, 2), dtype=np.int64)
        self.adj[tour, 0] = np.roll(tour, 1)
        self.adj[tour, 1] = np.roll(tour, -1)

    def internal_edges(self, nodes: np.ndarray, inside: np.ndarray) -> np.ndarray:
        """Current edges with both ends in ``nodes`` (each once, as rows (a, b) with a < b)."""
        a = np.repeat(nodes, 2)
        b = self.adj[nodes].ravel()
        keep = inside[b] & (a < b)
        return np.column_stack([a[keep], b[keep]])

    def exchange(self, old: np.ndarray, new: np.ndarray) -> None:
        """Replace edges ``old`` by ``new`` (every node keeps its degree)."""
        a = np.concatenate([old[:, 0], old[:, 1]])
        b = np.concatenate([old[:, 1], old[:, 0]])
        self.adj[a, np.argmax(self.adj[a] == b[:, None], axis=1)] = -1
        a = np.concatenate([new[:, 0], new[:, 1]])
        b = np.concatenate([new[:, 1], new[:, 0]])
        order = np.argsort(a, kind="stable")
        a, b = a[order], b[order]
        # a node with two new edges takes both slots; one with one new edge its free slot
        second = np.zeros(len(a), dtype=bool)
        second[1:] = a[1:] == a[:-1]
        twice = second | np.append(second[1:], False)
        col = np.where(twice, second.astype(np.int64), np.argmax(self.adj[a] == -1, axis=1))
        self.adj[a, col] = b

    def is_one_cycle(self) -> bool:
        rows = np.repeat(np.arange(self.n), 2)
        graph = coo_matrix((np.ones(2 * self.n), (rows, self.adj.ravel())), (self.n, self.n))
        return connected_components(graph, directed=False)[0] == 1

    def tour(self) -> np.ndarray:
        order = np.empty(self.n, dtype=np.int64)
        adj = self.adj.tolist()
        prev, cur = -1, 0
        for i in range(self.n):
            order[i] = cur
            a, b = adj[cur]
            prev, cur = cur, (b if a == prev else a)
        return order


def _new_edges(sequence: np.ndarray, n: int) -> np.ndarray:
    """Internal edges of a sequence; a sequence of all n nodes is a whole tour (closed)."""
    seq = sequence
    if np.count_nonzero(seq != SEPARATOR) == n:
        seq = seq[seq != SEPARATOR]
    a, b = seq, np.roll(seq, -1)
    keep = (a != SEPARATOR) & (b != SEPARATOR)
    return np.sort(np.column_stack([a[keep], b[keep]]), axis=1)


def _degrees(edges: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(edges.ravel(), minlength=n)


def splice(problem: Problem, base: np.ndarray, sequences: Sequence[np.ndarray]) -> np.ndarray:
    """``base`` with every applicable, shorter result sequence spliced in."""
    n = len(base)
    cycle = _Cycle(base)
    prepared = []
    for raw in sequences:
        seq = np.asarray(raw, dtype=np.int64)
        nodes = seq[seq != SEPARATOR]
        if seq.ndim != 1 or len(nodes) < 2 or nodes.min() < 0 or nodes.max() >= n:
            continue
        if len(np.unique(nodes)) != len(nodes):
            continue
        new = _new_edges(seq, n)
        gain = _edges_length(problem, cycle.internal_edges(nodes, _mask(nodes, n)))
        gain -= _edges_length(problem, new)
        if gain > 0:
            prepared.append((gain, nodes, new))
    prepared.sort(key=lambda p: -p[0])
    applied = [step for step in prepared if _apply(problem, cycle, *step[1:]) is not None]
    if applied and not cycle.is_one_cycle():
        # together they split the tour: take them one at a time, each checked
        cycle = _Cycle(base)
        for _, nodes, new in applied:
            old = _apply(problem, cycle, nodes, new)
            if old is not None and not cycle.is_one_cycle():
                cycle.exchange(new, old)
    return cycle.tour()


def _apply(problem: Problem, cycle: _Cycle, nodes: np.ndarray, new: np.ndarray):
    """Exchange ``nodes``' internal edges for ``new`` if that keeps degrees and is shorter.

    Returns the removed edges, or None when nothing was changed.
    """
    inside = _mask(nodes, cycle.n)
    old = cycle.internal_edges(nodes, inside)
    if not inside[new].all() or not np.array_equal(_degrees(old, cycle.n), _degrees(new, cycle.n)):
        return None
    if _edges_length(problem, new) >= _edges_length(problem, old):
        return None
    cycle.exchange(old, new)
    return old


def _mask(nodes: np.ndarray, n: int) -> np.ndarray:
    inside = np.zeros(n, dtype=bool)
    inside[nodes] = True
    return inside


def _edges_length(problem: Problem, edges: np.ndarray) -> float:
    if not len(edges):
        return 0.0
    return float(problem.distances(edges[:, 0], edges[:, 1]).sum())
