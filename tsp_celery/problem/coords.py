"""Plain coordinate files: one point per line, read as Euclidean with float (unrounded) lengths.

The rule, so that no file is guessed at:
- Fields are separated by commas when the first data line holds a comma, else by whitespace.
  Blank lines and lines starting with ``#`` are skipped.
- The first line is a header when any of its fields is not a number. A header that names
  columns ``x`` and ``y`` (and optionally ``z``; any case) selects those columns, so
  ``id,x,y`` and ``city,x,y`` files work (only the selected columns must hold numbers); any
  other header must have exactly 2 or 3 fields, taken as x y [z].
- Without a header every line holds 2 numbers (x y) or 3 (x y z). A leading id column is never
  assumed: ``1 2 3`` is a 3-D point. Give a file with ids a header naming x and y.
- Every line has the same number of fields; all values are finite and within the bounds of
  ``limits``. CRLF and CR line ends and a byte-order mark are fine.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tsp_celery.errors import InstanceError
from tsp_celery.problem.distance import FLOAT_EUCLIDEAN
from tsp_celery.problem.limits import coordinate_fault
from tsp_celery.problem.model import Problem
from tsp_celery.problem.textfile import normalize_text, read_text
from tsp_celery.problem.tsplib_scan import is_number


def read_coords(path: str | os.PathLike[str]) -> Problem:
    """The EUC_FLOAT problem of a plain coordinate file (rules in the module docstring)."""
    return parse_coords(read_text(path), str(path))


def parse_coords(text: str, path: str | None = None) -> Problem:
    """The EUC_FLOAT problem of coordinate ``text``; ``path`` names the file in errors."""
    lines = normalize_text(text).split("\n")
    data = [k for k, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")]
    if not data:
        raise InstanceError("no coordinates in the file", path)
    sep = "," if "," in lines[data[0]] else None
    first = [f.strip() for f in lines[data[0]].split(sep)]
    if all(is_number(f) for f in first):
        width, columns = len(first), list(range(len(first)))
        if width not in (2, 3):
            raise InstanceError(
                f"expected 2 or 3 numbers per line (x y [z]), got {width}; a leading id column "
                "is not assumed: add a header line naming the x and y columns",
                path, data[0] + 1,
            )
    else:
        width, columns = len(first), _header_columns(first, path, data[0] + 1)
        data = data[1:]
    points = _parse_rows(lines, data, sep, width, columns, path)
    fault = coordinate_fault(points)
    if fault:
        row, reason = fault
        raise InstanceError(reason, path, None if row is None else data[row] + 1)
    name = Path(path).stem if path else "coords"
    try:
        return Problem.from_coords(points, FLOAT_EUCLIDEAN, name=name)
    except InstanceError as exc:
        raise InstanceError(exc.message, path) from None


def _header_columns(header: list[str], path: str | None, line: int) -> list[int]:
    """Column indices of x, y [, z] named by a header line."""
    names = [f.lower() for f in header]
    if "x" in names and "y" in names:
        return [names.index(c) for c in ("x", "y", "z") if c in names]
    if len(header) in (2, 3):
        return list(range(len(header)))
    raise InstanceError(
        f"header {', '.join(header)!r} names no 'x' and 'y' columns and has {len(header)} "
        "fields (expected x y [z])",
        path, line,
    )


def _parse_rows(
    lines: list[str], rows: list[int], sep: str | None, width: int, columns: list[int],
    path: str | None,
) -> np.ndarray:
    """The numbers in ``columns`` of the given lines, or an error at the first bad line.

    Fast path: every field is a number (one vectorised parse). Otherwise line by line, so that
    unselected columns may hold text (city names) and a bad line is named.
    """
    joined = "\n".join(lines[k] for k in rows)
    tokens = (joined.replace(sep, " ") if sep else joined).split()
    seps_ok = sep is None or joined.count(sep) == len(rows) * (width - 1)
    if seps_ok and len(tokens) == len(rows) * width:
        try:
            values = np.fromiter(map(float, tokens), np.float64, len(tokens))
            return values.reshape(-1, width)[:, columns]
        except ValueError:
            pass
    out = np.empty((len(rows), len(columns)), dtype=np.float64)
    for i, k in enumerate(rows):
        fields = [f.strip() for f in lines[k].split(sep)]
        if len(fields) != width:
            raise InstanceError(
                f"expected {width} fields like the first line, got {len(fields)}", path, k + 1
            )
        for j, c in enumerate(columns):
            if not is_number(fields[c]):
                raise InstanceError(f"{fields[c]!r} is not a number", path, k + 1)
            out[i, j] = float(fields[c])
    return out
