"""The fast-tsp engine: LKH-style local search from the compiled fast-tsp kernel.

fast-tsp takes a full integer matrix with entries <= 65535, has no seed and no warm start, and
spends its whole ``duration_seconds`` (setup included) unless told to stop on convergence. This
wrapper converts (and, when needed, scales) the matrix, gives the kernel what is left of the
budget after that conversion, and runs one thread unless told otherwise: parallelism normally
belongs to the caller (one unit per pool slot or Celery process); a lone embedded job on a
large instance gets one unit with all its slots' threads, since fast-tsp's threads share one
search and beat as many independent runs there. Callers score the tour with exact distances.
"""

from __future__ import annotations

import time

import fast_tsp
import numpy as np

from tsp_celery.solver.matrix import to_uint16

# Kept back from the budget for the caller's work after the search (validation, exact scoring).
_RESERVE_S = 0.005
_RESERVE_FRACTION = 0.01
# The kernel always gets at least this long, so even a spent budget yields a valid tour.
_MIN_SEARCH_S = 0.002


def search_seconds(budget_s: float, spent_s: float) -> float:
    """Seconds to hand the kernel: what is left of the budget, less a small reserve."""
    left = budget_s - spent_s - _RESERVE_S - _RESERVE_FRACTION * budget_s
    return max(left, _MIN_SEARCH_S)


class FastTspEngine:
    """Engine seam over ``fast_tsp.find_tour`` (``seed`` is unused, see units)."""

    name = "fast-tsp"
    proves_optimality = False

    def solve(
        self, matrix: np.ndarray, budget_s: float, seed: int, *, threads: int = 1,
        until_converged: bool = False,
    ) -> np.ndarray:
        """``until_converged``: return early once the search stalls (fast-tsp's own rule)."""
        start = time.monotonic()
        n = matrix.shape[0]
        if n <= 3:
            return np.arange(n, dtype=np.int64)
        m16, _ = to_uint16(matrix)
        tour = fast_tsp.find_tour(
            np.ascontiguousarray(m16),
            search_seconds(budget_s, time.monotonic() - start),
            max_threads=threads,
            stop_when_converged=until_converged,
        )
        return np.asarray(tour, dtype=np.int64)
