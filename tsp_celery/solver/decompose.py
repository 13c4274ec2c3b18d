"""Decomposition mechanics: disjoint pieces of the tour (segments) or of the space-filling curve
(regions), their cut points shifted every round.

A round improves each segment as a path with fixed ends (``path.solve_path``), then splices the
improvements back (``units.apply_results``). Edges between segments cannot change in that
round, so the next round moves every cut point by shifting the offset.

RECOMMENDED_SEGMENT_SIZE nodes and about RECOMMENDED_SECONDS_PER_NODE x size seconds per unit, for
segment and region units alike, gained most per second on pla33810 (docs/performance.md).
"""

from __future__ import annotations

import numpy as np

from tsp_celery.problem.model import Problem
from tsp_celery.solver.construct import hilbert_tour

RECOMMENDED_SEGMENT_SIZE = 2000
RECOMMENDED_SECONDS_PER_NODE = 0.0004


def segments(n: int, size: int, offset: int = 0) -> list[tuple[int, int]]:
    """Disjoint (start, size) pairs covering a tour of n nodes, the first starting at offset.

    Sizes differ by at most one, none exceeds ``size``; starts are positions in the tour taken
    modulo n (a segment may wrap past the end).
    """
    if n < 1 or size < 2:
        raise ValueError(f"Expected n >= 1 and size >= 2, got n={n}, size={size}.")
    count = -(-n // min(size, n))
    base, extra = divmod(n, count)
    out = []
    start = offset % n
    for i in range(count):
        length = base + (1 if i < extra else 0)
        out.append((start, length))
        start = (start + length) % n
    return out


def round_offset(round_no: int, size: int) -> int:
    """Offset for a round: cut points move by about a third of a segment each round."""
    return (round_no * max(1, size // 3 + 1)) if size > 0 else 0


def region_order(problem: Problem, base_tour: np.ndarray) -> np.ndarray:
    """The node order regions are cut from: the Hilbert curve (consecutive nodes are close
    together), or the tour itself for problems without coordinates.

    The curve is kept for the last problem seen: a worker runs many region units of one
    problem, and the curve costs 0.13 s at 85,900 nodes, a third of a 0.4 s unit.
    """
    if problem.coords is None:
        return np.asarray(base_tour, dtype=np.int64)
    if _last_order[0] is not problem:
        _last_order[:] = [problem, hilbert_tour(problem.coords)]
    return _last_order[1]


_last_order: list = [None, None]


def region_nodes(problem: Problem, base_tour: np.ndarray, start: int, size: int) -> np.ndarray:
    """Nodes of the region at positions start..start+size (wrapping) of ``region_order``."""
    order = region_order(problem, base_tour)
    return order[(start + np.arange(size)) % len(order)]
