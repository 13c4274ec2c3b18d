"""The magnitudes an instance may have, so that every distance and tour length stays exact.

Tour lengths are summed as int64 in Python and compared as doubles by the cluster's Lua scripts
(a new best must be shorter): both are exact for integers below 2**53 only. An instance is
refused when the longest tour it could have reaches that, and coordinates are bounded by
±MAX_ABS_COORDINATE, where a distance (below 2**33) is computed by TSPLIB's double formula with
an error under 2**-20, far from any rounding boundary of practical data. Parsers call these
checks to name the offending line; ``Problem`` calls them for arrays built in Python.
"""

from __future__ import annotations

import numpy as np

MAX_ABS_COORDINATE = 1e9
EXACT_LENGTH_LIMIT = 2**53


def coordinate_fault(coords: np.ndarray) -> tuple[int | None, str] | None:
    """(row or None, reason) of the first thing wrong with (n, d) coordinates, or None."""
    bad = ~(np.abs(coords) <= MAX_ABS_COORDINATE).all(axis=1)  # NaN compares False: bad too
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        got = " ".join(f"{v:g}" for v in coords[row])
        if not np.isfinite(coords[row]).all():
            return row, f"coordinates must be finite numbers, got {got}"
        return row, (f"coordinates must lie within ±{MAX_ABS_COORDINATE:g} so that lengths stay "
                     f"exact, got {got}; scale the instance down")
    if not len(coords):
        return None  # no nodes: Problem refuses that itself (a tour needs 3)
    # Every TSPLIB distance is at most the L1 diagonal of the bounding box, plus 1 for rounding.
    longest_edge = float((coords.max(axis=0) - coords.min(axis=0)).sum()) + 1.0
    return _length_fault(len(coords), longest_edge, "the coordinates span")


def matrix_fault(values: np.ndarray, n: int) -> tuple[int | None, str] | None:
    """(index into ``values`` or None, reason) of the first refused matrix entry, or None."""
    bad = ~(np.isfinite(values) & (values >= 0))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        return k, f"{values[k]:g} is not a distance (a finite number >= 0)"
    longest_edge = float(values.max()) if values.size else 0.0
    return _length_fault(n, longest_edge, "the longest edge is")


def _length_fault(n: int, longest_edge: float, what: str) -> tuple[None, str] | None:
    if n * longest_edge < EXACT_LENGTH_LIMIT:
        return None
    return None, (f"{what} {longest_edge:.4g}: a tour of {n} nodes could be "
                  f"{n * longest_edge:.4g} long, beyond 2^53 ({EXACT_LENGTH_LIMIT:.3g}) where "
                  "lengths stop being exact; scale the instance down")
