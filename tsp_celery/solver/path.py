"""Sub-problems with fixed ends: reorder part of the tour while the rest stays as it is.

A node set S meets the tour in runs (maximal stretches of consecutive tour nodes in S); between
two runs the tour goes through outside nodes that we keep. Each outside stretch becomes one
dummy node joined at cost 0 to the two run ends it connects and at a cost above the longest real
edge to everything else. Any tour of S plus the dummies in which every dummy sits between its
own two ends maps back to a valid full tour (an outside stretch may be walked the other way,
which is the same length), so any engine can solve it. A tour segment is the case of one run:
its two ends stay fixed. A spatial region usually meets the tour in many runs, and then nodes
can move between runs, which segments cannot do.

Local search need not honour the dummies, so every result is checked; the base order is kept
when a dummy lost its ends or the exact length did not get shorter.

A result is a ``sequence``: S's nodes in their new cyclic order, with SEPARATOR where the tour
leaves S (at a dummy). Its consecutive node pairs are exactly S's new internal edges.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from tsp_celery.problem.model import Problem
from tsp_celery.solver.engine import Engine
from tsp_celery.solver.matrix import UINT16_MAX, compact_matrix

SEPARATOR = -1
# Real distances are scaled to at most _REAL_LIMIT; the dummies' other edges cost more.
_REAL_LIMIT = UINT16_MAX - 1
_DUMMY_COST = UINT16_MAX


@dataclass(frozen=True)
class SubResult:
    """New sequence of a sub-problem and the exact lengths of its internal edges."""

    sequence: np.ndarray
    length: int | float
    base_length: int | float

    @property
    def improved(self) -> bool:
        return self.length < self.base_length


def path_length(problem: Problem, order: np.ndarray) -> int | float:
    """Exact length of the open path visiting ``order``."""
    total = problem.distances(order[:-1], order[1:]).sum()
    return int(total) if problem.is_integral else float(total)


def sequence_length(problem: Problem, sequence: np.ndarray) -> int | float:
    """Exact length of the internal edges of a sequence (cyclic; separators cut it)."""
    a, b = sequence, np.roll(sequence, -1)
    keep = (a != SEPARATOR) & (b != SEPARATOR)
    total = problem.distances(a[keep], b[keep]).sum() if keep.any() else 0
    return int(total) if problem.is_integral else float(total)


def runs_in_tour(tour: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """The base sequence of ``nodes``: their tour order, SEPARATOR before each run."""
    inside = np.zeros(len(tour), dtype=bool)
    inside[nodes] = True
    along = inside[tour]
    if along.all():
        return tour.copy()
    shift = int(np.flatnonzero(~along)[0])
    t, along = np.roll(tour, -shift), np.roll(along, -shift)
    idx = np.flatnonzero(along)
    is_start = (along & ~np.roll(along, 1))[idx]
    out = np.full(len(idx) + int(is_start.sum()), SEPARATOR, dtype=np.int64)
    out[np.arange(len(idx)) + np.cumsum(is_start)] = t[idx]
    return out


def _dummy_matrix(problem: Problem, nodes: np.ndarray, ties: list[tuple[int, int]]) -> np.ndarray:
    """uint16 matrix of ``nodes`` plus one dummy per (end, end) pair of local indices."""
    k, m = len(nodes), len(ties)
    mat, _ = compact_matrix(problem, nodes, limit=_REAL_LIMIT, pad=m)
    mat[k:, :] = _DUMMY_COST
    mat[:, k:] = _DUMMY_COST
    mat[np.arange(k, k + m), np.arange(k, k + m)] = 0
    for i, (a, b) in enumerate(ties):
        mat[k + i, [a, b]] = 0
        mat[[a, b], k + i] = 0
    return mat


def solve_sequence(
    problem: Problem, base: np.ndarray, engine: Engine, budget_s: float, seed: int = 0
) -> SubResult:
    """Improve a base sequence (see module doc) within ``budget_s``; never longer.

    The nodes are relabelled by a seeded permutation so that repeated runs of a seedless
    engine differ.
    """
    start = time.monotonic()
    base = np.asarray(base, dtype=np.int64)
    base_length = sequence_length(problem, base)
    unchanged = SubResult(base, base_length, base_length)
    real = base != SEPARATOR
    nodes = base[real]
    k = len(nodes)
    if k <= 3:
        return unchanged
    perm = np.random.default_rng(seed).permutation(k)
    nodes = nodes[perm]
    local = np.empty(k, dtype=np.int64)
    local[perm] = np.arange(k)
    seq_local = np.where(real, 0, SEPARATOR)
    seq_local[real] = local
    sep = np.flatnonzero(~real)
    # dummy i stands for the outside stretch at separator i: last node before, first after.
    ties = [(int(seq_local[s - 1]), int(seq_local[(s + 1) % len(base)])) for s in sep]
    matrix = _dummy_matrix(problem, nodes, ties)
    tour = np.asarray(engine.solve(matrix, budget_s - (time.monotonic() - start), seed))
    del matrix
    sequence = _sequence_from_tour(tour, k, ties)
    if sequence is None:
        return unchanged
    sequence = np.where(sequence == SEPARATOR, SEPARATOR, nodes[np.maximum(sequence, 0)])
    length = sequence_length(problem, sequence)
    return SubResult(sequence, length, base_length) if length < base_length else unchanged


def _sequence_from_tour(tour: np.ndarray, k: int, ties: list[tuple[int, int]]) -> np.ndarray | None:
    """The engine's tour as a local sequence, or None if it is invalid or a dummy lost its ends."""
    size = k + len(ties)
    if len(tour) != size or not np.array_equal(np.sort(tour), np.arange(size)):
        return None
    where = np.empty(size, dtype=np.int64)
    where[tour] = np.arange(size)
    for i, (a, b) in enumerate(ties):
        p = where[k + i]
        if {int(tour[p - 1]), int(tour[(p + 1) % size])} != {a, b}:
            return None
    return np.where(tour >= k, SEPARATOR, tour)


def solve_path(
    problem: Problem, segment: np.ndarray, engine: Engine, budget_s: float, seed: int = 0
) -> SubResult:
    """Improve the open path ``segment`` (its ends stay); result ``sequence`` is the path."""
    segment = np.asarray(segment, dtype=np.int64)
    res = solve_sequence(problem, np.concatenate([[SEPARATOR], segment]), engine, budget_s, seed)
    seq = res.sequence
    cut = int(np.flatnonzero(seq == SEPARATOR)[0])
    order = np.concatenate([seq[cut + 1 :], seq[:cut]])
    if order[0] != segment[0]:
        order = order[::-1]
    return SubResult(order, res.length, res.base_length)
