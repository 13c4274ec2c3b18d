"""Decomposition mechanics: disjoint pieces of the tour (segments) or of the space-filling curve
(regions), their cut points shifted every round.

A round improves each segment as a path with fixed ends (``path.solve_path``), then splices the
improvements back (``units.apply_results``). Edges between segments cannot change in that
round, so the next round moves every cut point by shifting the offset.

What to choose, measured on pla33810 (one process on the shared 2-core machine, fast-tsp):
- first round from greedy, 6 segments each: gain per node is flat in the size (232 / 267 / 247 /
  234 for 500 / 1000 / 2000 / 4000 nodes at 0.5 ms per node) and doubling the budget to 1 ms
  per node adds < 4 % gain at half the gain per second. Best gain per second: 1000 nodes at
  0.5 s (460k length units/s; 500 at 0.25 s: 442k; 2000 at 1 s: 366k; 4000 at 2 s: 345k).
- whole runs: tour segments alone stall where the tour's global route is wrong (fnl4461: 2.8 %
  from greedy, 1.2 % from a Hilbert tour); alternating segment and region rounds from the
  polished initial tour keeps improving (fnl4461: 0.23 % after 20 s; pla33810: 1.45 % after
  110 s of one process, 1000 nodes, 0.3 s per unit).
- later rounds, from the polished tour (2 workers, 60 s, load 3-6, one run each): 1000 nodes
  at 0.4 ms per node 1.06 %, at 0.2 ms 0.86 %, at 0.1 ms 0.93 %; 2000 nodes at 0.4 ms 0.65 %
  (repeat under heavier load: 1.15 %), at 0.2 ms 0.71 %; 4000 nodes 2.0-2.7 % (fast-tsp's
  set-up eats the slice). Once the tour is good, fewer cut points gain more than faster units.
Hence RECOMMENDED_SEGMENT_SIZE nodes and about RECOMMENDED_SECONDS_PER_NODE x size seconds per
unit, for segment and region units alike, alternating the two kinds round by round.
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
