"""Decomposition mechanics: cut the current tour into disjoint segments, shifted every round.

A round improves each segment as a path with fixed ends (``path.solve_path``), then splices the
improvements back (``units.apply_results``). Edges between segments cannot change in that
round, so the next round moves every cut point by shifting the offset.

What to choose, measured on pla33810 from a greedy start (2 cores, fast-tsp, one thread per
segment; see the solver report in the docs): segments of RECOMMENDED_SEGMENT_SIZE nodes with
about RECOMMENDED_SECONDS_PER_NODE x size seconds each give the most improvement per second;
smaller segments converge fast but leave long-range defects, larger ones spend most of their
budget in fast-tsp's set-up (alpha-nearness candidates) before improving anything.
"""

from __future__ import annotations

import numpy as np

from tsp_celery.problem.model import Problem
from tsp_celery.solver.construct import hilbert_tour

RECOMMENDED_SEGMENT_SIZE = 1000
RECOMMENDED_SECONDS_PER_NODE = 0.001


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
    together), or the tour itself for problems without coordinates."""
    if problem.coords is None:
        return np.asarray(base_tour, dtype=np.int64)
    return hilbert_tour(problem.coords)


def region_nodes(problem: Problem, base_tour: np.ndarray, start: int, size: int) -> np.ndarray:
    """Nodes of the region at positions start..start+size (wrapping) of ``region_order``."""
    order = region_order(problem, base_tour)
    return order[(start + np.arange(size)) % len(order)]
