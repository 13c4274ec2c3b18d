"""Engine matrices: the distances of a node subset as a uint16 matrix, scaled to fit fast-tsp.

fast-tsp accepts distances up to 65535. A (sub)problem whose longest edge is longer is scaled by
``limit / longest`` and rounded; plain float coordinates (EUC_FLOAT) are always scaled so their
rounding uses the whole range. Rows are computed in blocks straight into the uint16 result, so
a full matrix costs 2 bytes per cell, never an int64 temporary of n x n (see ``budget``). Tours
found on a scaled matrix are scored afterwards with the exact distances.
"""

from __future__ import annotations

import contextlib
import mmap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.spatial import ConvexHull, QhullError
from scipy.spatial.distance import cdist

from tsp_celery.problem.distance import FLOAT_EUCLIDEAN, GEO_PI, GEO_RADIUS
from tsp_celery.problem.model import Problem
from tsp_celery.solver.budget import BLOCK_CELLS

UINT16_MAX = 65535
# TSPLIB's GEO distance is at most half the idealised earth's circumference (+1, truncated).
_GEO_MAX = int(GEO_RADIUS * GEO_PI + 1.0) + 1
# Below this many points the hull is not worth computing: all pairs are cheap.
_HULL_MIN_POINTS = 64
# Coordinate types whose engine matrix comes from scipy's compiled cdist (10x faster than the
# exact numpy path): (metric, factor, TSPLIB rounding). ATT's rounding rule equals a ceiling.
_METRICS = {
    "EUC_2D": ("euclidean", 1.0, "nint"),
    "EUC_3D": ("euclidean", 1.0, "nint"),
    "CEIL_2D": ("euclidean", 1.0, "ceil"),
    "ATT": ("euclidean", 10**-0.5, "ceil"),
    "MAN_2D": ("cityblock", 1.0, "nint"),
    "MAN_3D": ("cityblock", 1.0, "nint"),
    "MAX_2D": ("chebyshev", 1.0, "nint"),
    "MAX_3D": ("chebyshev", 1.0, "nint"),
    FLOAT_EUCLIDEAN: ("euclidean", 1.0, "nint"),
}


# Matrices from this size on are backed by transparent huge pages where the OS offers them:
# touching fresh memory 4 KB at a time cost 1.5 s for a 13,509-node matrix here, 0.4 s in 2 MB
# pages (a quarter of building the whole matrix).
_HUGE_PAGE_MIN_BYTES = 1 << 25


def zeroed_uint16(rows: int, cols: int) -> np.ndarray:
    """A zero-filled uint16 array, in huge pages when it is large and the OS allows it."""
    size = rows * cols * 2
    if size < _HUGE_PAGE_MIN_BYTES or not hasattr(mmap, "MADV_HUGEPAGE"):
        return np.zeros((rows, cols), dtype=np.uint16)
    buffer = mmap.mmap(-1, size)  # anonymous mappings start zero-filled
    # a kernel without transparent huge pages refuses: plain pages are fine then
    with contextlib.suppress(OSError):
        buffer.madvise(mmap.MADV_HUGEPAGE)
    return np.frombuffer(buffer, dtype=np.uint16).reshape(rows, cols)


def row_blocks(rows: int, cols: int) -> Iterator[slice]:
    """Slices of ``rows`` such that each block has at most BLOCK_CELLS cells."""
    step = max(1, BLOCK_CELLS // max(cols, 1))
    for lo in range(0, rows, step):
        yield slice(lo, min(lo + step, rows))


def _dist_block(problem: Problem, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    if problem.matrix is not None:
        return problem.matrix[np.ix_(rows, cols)]
    return problem.distances(rows[:, None], cols[None, :])


def _engine_block(problem: Problem, rows: np.ndarray, cols: np.ndarray, scale: float) -> np.ndarray:
    """Distances rows x cols as the engine sees them: float, scaled and rounded, in a fresh
    array the caller may overwrite (every step works in place: temporaries cost more than the
    arithmetic here).

    Unscaled, they equal the TSPLIB lengths (up to the last bit of sqrt, which cannot matter:
    tours are scored exactly afterwards). Scaled, the unrounded metric is scaled and rounded
    once, which is both faster and closer to the true lengths than rounding twice.
    """
    if problem.coords is None or problem.edge_weight_type not in _METRICS:
        d = np.asarray(_dist_block(problem, rows, cols), dtype=np.float64)
        d *= scale
        return np.rint(d, out=d)
    metric, factor, rounding = _METRICS[problem.edge_weight_type]
    d = cdist(problem.coords[rows], problem.coords[cols], metric)
    if scale != 1.0 or problem.edge_weight_type == FLOAT_EUCLIDEAN:
        d *= factor * scale
        return np.rint(d, out=d)
    if factor != 1.0:
        d *= factor
    if rounding == "ceil":
        return np.ceil(d, out=d)
    d += 0.5
    return np.floor(d, out=d)


def _exact_max(problem: Problem, idx: np.ndarray) -> float:
    top = 0.0
    for block in row_blocks(len(idx), len(idx)):
        top = max(top, float(_dist_block(problem, idx[block], idx).max()))
    return top


def longest_edge(problem: Problem, nodes: np.ndarray) -> float:
    """The longest distance between two of ``nodes`` (an upper bound for GEO).

    Every coordinate type but GEO is a nondecreasing function of a convex function of the
    coordinate difference, so its maximum is reached between two convex-hull vertices: the hull
    makes this O(k log k) instead of O(k^2).
    """
    idx = np.asarray(nodes, dtype=np.int64)
    if problem.coords is None or len(idx) < _HULL_MIN_POINTS:
        return _exact_max(problem, idx)
    if problem.edge_weight_type == "GEO":
        return float(_GEO_MAX)
    try:
        hull = ConvexHull(problem.coords[idx])
        idx = idx[hull.vertices]
    except (QhullError, ValueError):  # flat or degenerate point sets: check all pairs
        pass
    return _exact_max(problem, idx)


def scale_for(longest: float, integral: bool, limit: int = UINT16_MAX) -> float:
    """Factor that maps distances into 0..limit: 1 for integer data that already fits."""
    if longest <= 0:
        return 1.0
    if integral and longest <= limit:
        return 1.0
    return limit / longest


def compact_matrix(
    problem: Problem, nodes: np.ndarray | None = None, *, limit: int = UINT16_MAX, pad: int = 0,
    threads: int = 1,
) -> tuple[np.ndarray, float]:
    """The uint16 matrix of ``nodes`` (scaled into 0..limit) and the scale used.

    ``pad`` extra rows and columns are appended, zero-filled, for the caller (e.g. a dummy node).
    ``threads`` > 1 fills row blocks in that many threads (cdist and numpy release the GIL):
    a multi-thread unit's cores would otherwise wait for one (rl5934: 1.1 s of a 10 s budget).
    """
    idx = np.arange(problem.n) if nodes is None else np.asarray(nodes, dtype=np.int64)
    k = len(idx)
    integral = problem.is_integral and problem.edge_weight_type != FLOAT_EUCLIDEAN
    scale = scale_for(longest_edge(problem, idx), integral, limit)
    out = zeroed_uint16(k + pad, k + pad)

    def fill(block: slice) -> None:
        d = _engine_block(problem, idx[block], idx, scale)
        out[block, :k] = np.minimum(d, limit, out=d)  # distances are never negative

    if threads > 1 and k * k > BLOCK_CELLS:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(fill, row_blocks(k, k)))
    else:
        for block in row_blocks(k, k):
            fill(block)
    return out, scale


def to_uint16(matrix: np.ndarray, limit: int = UINT16_MAX) -> tuple[np.ndarray, float]:
    """A caller's matrix as uint16 (scaled and rounded when needed) and the scale used."""
    m = np.asarray(matrix)
    # a uint16 matrix fits the full range as it is: no pass over it (0.2 s at 14,051 nodes)
    if m.dtype == np.uint16 and (limit >= UINT16_MAX or int(m.max(initial=0)) <= limit):
        return np.ascontiguousarray(m), 1.0
    if m.size and float(m.min()) < 0:
        raise ValueError("Expected non-negative distances.")
    integral = bool(np.issubdtype(m.dtype, np.integer))
    scale = scale_for(float(m.max(initial=0)), integral, limit)
    out = np.empty(m.shape, dtype=np.uint16)
    for block in row_blocks(m.shape[0], m.shape[1] if m.ndim == 2 else 1):
        d = m[block].astype(np.float64) * scale if scale != 1.0 or not integral else m[block]
        out[block] = np.clip(np.rint(d), 0, limit)
    return out, scale


# The whole instance's engine matrix, kept by a process that runs one whole-instance unit after
# another (an embedded job's multi-thread restarts): built once per job instead of once per
# restart (brd14051: 3.9-17 s a build on this 2-core machine, of a 24 s restart). The embedded
# engine builds it before its pool forks, so every pool process shares the parent's pages.
_whole: tuple[Problem, np.ndarray] | None = None


def whole_matrix(problem: Problem, threads: int = 1) -> np.ndarray:
    """The engine matrix of all of ``problem``'s nodes in file order, built (with ``threads``)
    on first use and kept until ``drop_whole_matrix`` or another problem asks."""
    global _whole
    if _whole is None or _whole[0] is not problem:
        _whole = None  # let the old matrix go before the new one is built
        _whole = (problem, compact_matrix(problem, threads=threads)[0])
    return _whole[1]


def drop_whole_matrix() -> None:
    """Release the kept whole-instance matrix (its job is over)."""
    global _whole
    _whole = None
