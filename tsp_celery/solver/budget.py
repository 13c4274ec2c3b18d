"""Matrix budget: when a full distance matrix may be built, and how large a sub-problem may be.

A matrix for fast-tsp costs CELL_BYTES per cell while the engine runs: our uint16 matrix (built
in row blocks straight from the distance function, see ``solver.matrix``) plus the engine's own
uint16 copy of it. Measured with fast-tsp 0.2.2 (psutil RSS sampled every 20 ms during
``find_tour``): n = 5000 adds 48 MiB and n = 10000 adds 191 MiB beyond our matrix, i.e. exactly
2 bytes per cell, whether the input is uint16, int32 or int64. Row-block temporaries add
TEMP_BYTES_PER_CELL per cell of one block (at most BLOCK_CELLS cells), independent of n beyond.
"""

from __future__ import annotations

import math

# Our uint16 matrix (2 B) + fast-tsp's internal uint16 copy (2 B), per cell.
CELL_BYTES = 4
# Row blocks hold at most this many cells; a few float64/int64 temporaries of that size exist
# at once while a matrix is built. Blocks that stay in the CPU cache build 3x faster than 16 MB
# ones (uniform 13,509 nodes here: 5 ns per cell at 2^18 cells, 12 ns at 2^21).
BLOCK_CELLS = 1 << 18
TEMP_BYTES_PER_CELL = 4 * 8


def matrix_bytes(n: int) -> int:
    """Peak bytes a full n x n engine matrix costs while the engine runs."""
    return n * n * CELL_BYTES + min(n * n, BLOCK_CELLS) * TEMP_BYTES_PER_CELL


def fits_matrix_budget(n: int, matrix_budget_bytes: int) -> bool:
    """True when a full n x n matrix (and the engine's copy) fits the budget."""
    if n < 0:
        raise ValueError(f"Expected n >= 0, got {n}.")
    return matrix_bytes(n) <= matrix_budget_bytes


def max_matrix_nodes(matrix_budget_bytes: int) -> int:
    """The largest n whose full matrix fits the budget (0 when none does)."""
    n = math.isqrt(max(matrix_budget_bytes, 0) // CELL_BYTES)
    while n > 0 and not fits_matrix_budget(n, matrix_budget_bytes):
        n -= 1
    return n
