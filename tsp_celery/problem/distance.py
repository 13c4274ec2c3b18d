"""Exact TSPLIB distance functions, vectorised over index arrays.

Each function takes two coordinate arrays of the same shape ``(m, d)`` and returns the ``m``
edge lengths exactly as TSPLIB (Reinelt 1991, "TSPLIB 95") defines them, so that published tour
lengths and optima match to the unit.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# TSPLIB's GEO constants: its own PI (not math.pi) and the idealised earth radius in km.
GEO_PI = 3.141592
GEO_RADIUS = 6378.388

# The plain-coordinate kind: Euclidean distances kept as floats, not rounded.
FLOAT_EUCLIDEAN = "EUC_FLOAT"

DistanceFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _nint(x: np.ndarray) -> np.ndarray:
    """TSPLIB's nint: (int)(x + 0.5), as int64."""
    return np.floor(x + 0.5).astype(np.int64)


def euc(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """EUC_2D / EUC_3D: Euclidean distance rounded to the nearest integer."""
    return _nint(np.sqrt(((a - b) ** 2).sum(axis=-1)))


def ceil_euc(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """CEIL_2D: Euclidean distance rounded up."""
    return np.ceil(np.sqrt(((a - b) ** 2).sum(axis=-1))).astype(np.int64)


def att(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """ATT: pseudo-Euclidean distance; rounded, then one more where rounding went down."""
    r = np.sqrt(((a - b) ** 2).sum(axis=-1) / 10.0)
    t = _nint(r)
    return np.where(t < r, t + 1, t)


def man(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MAN_2D / MAN_3D: Manhattan distance rounded to the nearest integer."""
    return _nint(np.abs(a - b).sum(axis=-1))


def maximum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MAX_2D / MAX_3D: the largest rounded coordinate difference."""
    return _nint(np.abs(a - b)).max(axis=-1)


def geo_radians(coords: np.ndarray) -> np.ndarray:
    """Convert TSPLIB degree.minute coordinates to radians with TSPLIB's own PI."""
    deg = np.trunc(coords)
    minutes = coords - deg
    return GEO_PI * (deg + 5.0 * minutes / 3.0) / 180.0


def geo(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """GEO: great-circle distance in km on TSPLIB's idealised sphere, truncated after +1."""
    ra, rb = geo_radians(a), geo_radians(b)
    q1 = np.cos(ra[..., 1] - rb[..., 1])
    q2 = np.cos(ra[..., 0] - rb[..., 0])
    q3 = np.cos(ra[..., 0] + rb[..., 0])
    inner = np.clip(0.5 * ((1.0 + q1) * q2 - (1.0 - q1) * q3), -1.0, 1.0)
    d = (GEO_RADIUS * np.arccos(inner) + 1.0).astype(np.int64)
    # TSPLIB's formula yields 1 for a node and itself; a tour never uses that edge, but a matrix
    # diagonal must be 0 for the solvers.
    return np.where(np.all(a == b, axis=-1), 0, d)


def euclidean_float(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Plain coordinate files: unrounded Euclidean distance."""
    return np.sqrt(((a - b) ** 2).sum(axis=-1))


# EDGE_WEIGHT_TYPE -> (function, coordinate dimension)
FUNCTIONS: dict[str, tuple[DistanceFn, int]] = {
    "EUC_2D": (euc, 2),
    "EUC_3D": (euc, 3),
    "CEIL_2D": (ceil_euc, 2),
    "ATT": (att, 2),
    "GEO": (geo, 2),
    "MAN_2D": (man, 2),
    "MAN_3D": (man, 3),
    "MAX_2D": (maximum, 2),
    "MAX_3D": (maximum, 3),
    FLOAT_EUCLIDEAN: (euclidean_float, 2),
}
