"""TSPLIB's nine EDGE_WEIGHT_FORMATs for explicit matrices: how the list of entries maps to cells.

The *_ROW formats list a triangle row by row. The *_COL formats list a triangle column by column,
which for a symmetric matrix is the same sequence as the mirrored row format: column j of the
upper triangle holds d(0,j) .. d(j-1,j), exactly what row j of the lower triangle holds. So
UPPER_COL reads like LOWER_ROW, LOWER_COL like UPPER_ROW, and the same with the diagonal.
"""

from __future__ import annotations

import numpy as np

FULL_MATRIX = "FULL_MATRIX"

# format -> (triangle, diagonal offset) of the row-wise order it is read in
_ROW_ORDER: dict[str, tuple[str, int]] = {
    "UPPER_ROW": ("upper", 1),
    "LOWER_ROW": ("lower", -1),
    "UPPER_DIAG_ROW": ("upper", 0),
    "LOWER_DIAG_ROW": ("lower", 0),
    "UPPER_COL": ("lower", -1),
    "LOWER_COL": ("upper", 1),
    "UPPER_DIAG_COL": ("lower", 0),
    "LOWER_DIAG_COL": ("upper", 0),
}

FORMATS: tuple[str, ...] = (FULL_MATRIX, *_ROW_ORDER)


def _cells(n: int, fmt: str) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of each listed entry, in the order the format lists them."""
    triangle, offset = _ROW_ORDER[fmt]
    if triangle == "upper":
        return np.triu_indices(n, offset)
    return np.tril_indices(n, offset)


def entry_count(n: int, fmt: str) -> int:
    """How many numbers an EDGE_WEIGHT_SECTION of this format holds for n nodes."""
    if fmt == FULL_MATRIX:
        return n * n
    with_diagonal = _ROW_ORDER[fmt][1] == 0
    return n * (n + 1) // 2 if with_diagonal else n * (n - 1) // 2


def expand(values: np.ndarray, n: int, fmt: str) -> np.ndarray:
    """The full (n, n) matrix from the listed entries (their count must be ``entry_count``).

    A triangle is mirrored into a symmetric matrix; FULL_MATRIX is returned as listed.
    """
    if fmt == FULL_MATRIX:
        return values.reshape(n, n).copy()
    rows, cols = _cells(n, fmt)
    m = np.zeros((n, n), dtype=values.dtype)
    m[rows, cols] = values
    m[cols, rows] = values
    return m


def flatten(matrix: np.ndarray, fmt: str) -> np.ndarray:
    """The entries of a symmetric matrix in the order the format lists them."""
    if fmt == FULL_MATRIX:
        return matrix.ravel()
    rows, cols = _cells(matrix.shape[0], fmt)
    return matrix[rows, cols]


def line_lengths(n: int, fmt: str) -> list[int]:
    """Entries per written line: one line per row (or column) of the triangle, none empty."""
    if fmt == FULL_MATRIX:
        return [n] * n
    triangle, offset = _ROW_ORDER[fmt]
    lengths = [n - i - offset for i in range(n)] if triangle == "upper" else [
        i + 1 + offset for i in range(n)
    ]
    return [k for k in lengths if k > 0]
