"""Splicing improved segments back into a tour.

A segment result is the new order of a stretch of the tour with the same first and last node.
It is located in the base by its first node, so a result computed against another base (a late
or redelivered unit) is recognised and skipped instead of corrupting the tour.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tsp_celery.problem.model import Problem
from tsp_celery.solver.path import path_length


def _placement(base: np.ndarray, pos: np.ndarray, order: np.ndarray) -> np.ndarray | None:
    """Positions in ``base`` that ``order`` replaces, or None if it is not a reordering there."""
    n, k = len(base), len(order)
    if not 2 <= k <= n or order.min() < 0 or order.max() >= n:
        return None
    where = (pos[order[0]] + np.arange(k)) % n
    old = base[where]
    if old[-1] != order[-1] or not np.array_equal(np.sort(old), np.sort(order)):
        return None
    return where


def splice_segments(
    problem: Problem, base: np.ndarray, orders: Sequence[np.ndarray]
) -> np.ndarray:
    """``base`` with every segment order that is a shorter path (exact lengths) spliced in.

    Orders that overlap an already spliced one are skipped, the largest gains going first.
    """
    n = len(base)
    pos = np.empty(n, dtype=np.int64)
    pos[base] = np.arange(n)
    gains = []
    for raw in orders:
        order = np.asarray(raw, dtype=np.int64)
        where = _placement(base, pos, order) if order.ndim == 1 and len(order) else None
        if where is None:
            continue
        gain = path_length(problem, base[where]) - path_length(problem, order)
        if gain > 0:
            gains.append((gain, where, order))
    gains.sort(key=lambda g: -g[0])
    out = base.copy()
    taken = np.zeros(n, dtype=bool)
    for _, where, order in gains:
        if taken[where].any():
            continue
        out[where] = order
        taken[where] = True
    return out
