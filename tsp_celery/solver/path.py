"""Path sub-problems: reorder a stretch of the tour between its two fixed ends.

Any engine solves closed tours, so the path becomes a tour with one dummy node joined to both
ends at cost 0 and to every other node at a cost above the longest real edge: an optimal tour
then passes end -> dummy -> other end, and cutting out the dummy leaves the best path. Local
search is not bound to honour that, so the result is checked and the original order kept when
the ends moved or the path did not get shorter with exact distances.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from tsp_celery.problem.model import Problem
from tsp_celery.solver.engine import Engine
from tsp_celery.solver.matrix import UINT16_MAX, compact_matrix

# Real distances are scaled to at most _REAL_LIMIT; the dummy's edges to inner nodes cost more.
_REAL_LIMIT = UINT16_MAX - 1
_DUMMY_COST = UINT16_MAX


@dataclass(frozen=True)
class PathResult:
    """The segment's nodes in their new order (same first and last node) and exact lengths."""

    order: np.ndarray
    length: int | float
    base_length: int | float

    @property
    def improved(self) -> bool:
        return self.length < self.base_length


def path_length(problem: Problem, order: np.ndarray) -> int | float:
    """Exact length of the open path visiting ``order``."""
    total = problem.distances(order[:-1], order[1:]).sum()
    return int(total) if problem.is_integral else float(total)


def path_matrix(problem: Problem, nodes: np.ndarray, first: int, last: int) -> np.ndarray:
    """uint16 matrix of ``nodes`` plus a dummy (last index) tied to positions first and last."""
    m, _ = compact_matrix(problem, nodes, limit=_REAL_LIMIT, pad=1)
    k = len(nodes)
    m[k, :k] = _DUMMY_COST
    m[:k, k] = _DUMMY_COST
    for end in (first, last):
        m[k, end] = m[end, k] = 0
    return m


def order_from_tour(tour: np.ndarray, dummy: int, first: int, last: int) -> np.ndarray | None:
    """The path first..last from a closed tour through the dummy, or None if the ends moved."""
    pos = int(np.flatnonzero(tour == dummy)[0])
    path = np.roll(tour, -pos)[1:]
    if path[0] == last and path[-1] == first:
        path = path[::-1]
    if path[0] != first or path[-1] != last:
        return None
    return path


def solve_path(
    problem: Problem, segment: np.ndarray, engine: Engine, budget_s: float, seed: int = 0
) -> PathResult:
    """Improve the path ``segment`` (node ids; ends stay) with ``engine`` within ``budget_s``.

    The inner nodes are relabelled by a seeded permutation so repeated runs of a seedless
    engine still differ. Never returns a longer path than ``segment``.
    """
    start = time.monotonic()
    segment = np.asarray(segment, dtype=np.int64)
    base_length = path_length(problem, segment)
    k = len(segment)
    if k <= 3:
        return PathResult(segment, base_length, base_length)
    rng = np.random.default_rng(seed)
    inner = segment[1:-1][rng.permutation(k - 2)]
    nodes = np.concatenate([segment[:1], inner, segment[-1:]])
    matrix = path_matrix(problem, nodes, 0, k - 1)
    tour = engine.solve(matrix, budget_s - (time.monotonic() - start), seed)
    del matrix
    local = order_from_tour(np.asarray(tour, dtype=np.int64), k, 0, k - 1)
    if local is None or sorted(local.tolist()) != list(range(k)):
        return PathResult(segment, base_length, base_length)
    order = nodes[local]
    length = path_length(problem, order)
    if length >= base_length:
        return PathResult(segment, base_length, base_length)
    return PathResult(order, length, base_length)
