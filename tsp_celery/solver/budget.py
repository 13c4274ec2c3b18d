"""Matrix budget: when a full distance matrix may be built, and how large a sub-problem may be.

A matrix for fast-tsp costs CELL_BYTES per cell while the engine runs: our uint16 matrix (built
in row blocks straight from the distance function, see ``solver.matrix``) plus the engine's own
uint16 copy of it. Measured with fast-tsp 0.2.2 (psutil RSS sampled every 20 ms during
``find_tour``): n = 5000 adds 48 MiB and n = 10000 adds 191 MiB beyond our matrix, i.e. exactly
2 bytes per cell, whether the input is uint16, int32 or int64. Row-block temporaries add a fixed
BLOCK_OVERHEAD_BYTES on top, independent of n.
"""

from __future__ import annotations

import math

# Our uint16 matrix (2 B) + fast-tsp's internal uint16 copy (2 B), per cell.
CELL_BYTES = 4
# Row blocks hold at most this many cells; a few float64/int64 temporaries of that size exist
# at once while a matrix is built.
BLOCK_CELLS = 1 << 21
BLOCK_OVERHEAD_BYTES = 4 * 8 * BLOCK_CELLS


def matrix_bytes(n: int) -> int:
    """Peak bytes a full n x n engine matrix costs while the engine runs."""
    return n * n * CELL_BYTES + BLOCK_OVERHEAD_BYTES


def fits_matrix_budget(n: int, matrix_budget_bytes: int) -> bool:
    """True when a full n x n matrix (and the engine's copy) fits the budget."""
    if n < 0:
        raise ValueError(f"Expected n >= 0, got {n}.")
    return matrix_bytes(n) <= matrix_budget_bytes


def max_matrix_nodes(matrix_budget_bytes: int) -> int:
    """The largest n whose full matrix fits the budget (0 when not even the overhead fits)."""
    room = matrix_budget_bytes - BLOCK_OVERHEAD_BYTES
    if room <= 0:
        return 0
    return math.isqrt(room // CELL_BYTES)
