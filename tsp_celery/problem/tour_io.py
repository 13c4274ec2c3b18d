"""TSPLIB ``.tour`` files: 1-based node ids in a TOUR_SECTION, closed by -1.

Read tours come back 0-based, validated as a permutation of the instance's n nodes; a file with
several tours yields its first. A missing -1 is accepted when the section ends there.
"""

from __future__ import annotations

import os

import numpy as np

from tsp_celery.problem.textfile import read_text, write_text
from tsp_celery.problem.tsplib_scan import scan


def read_tour(path: str | os.PathLike[str], n: int | None = None) -> np.ndarray:
    """The tour in ``path`` as 0-based int64 node indices; with ``n``, checked against it."""
    where = str(path)
    s = scan(read_text(path), where)
    kind = ((s.value("TYPE") or "").split() or ["TOUR"])[0].upper()
    if kind != "TOUR":
        raise s.error(f"TYPE is {kind}, expected TOUR: this is not a tour file", "TYPE")
    dimension = s.value("DIMENSION")
    if dimension is not None:
        if not dimension.isdigit():
            raise s.error(f"DIMENSION must be a whole number, got {dimension!r}", "DIMENSION")
        if n is not None and int(dimension) != n:
            raise s.error(f"tour DIMENSION is {dimension} but the instance has {n} nodes",
                          "DIMENSION")
        n = int(dimension) if n is None else n
    if "TOUR_SECTION" not in s.sections:
        raise s.error("missing TOUR_SECTION")
    section = s.sections["TOUR_SECTION"]
    values = section.numbers()
    ends = np.flatnonzero(values == -1)
    ids = values[: ends[0]] if len(ends) else values
    if not np.array_equal(ids, np.round(ids)):
        k = int(np.flatnonzero(ids != np.round(ids))[0])
        raise section.error(f"node id {ids[k]:g} is not a whole number",
                            section.line_of_token(k))
    tour = ids.astype(np.int64) - 1
    size = len(tour) if n is None else n
    if len(tour) != size:
        raise section.error(f"the tour has {len(tour)} nodes but the instance has {size}")
    outside = np.flatnonzero((tour < 0) | (tour >= size))
    if len(outside):
        k = int(outside[0])
        raise section.error(f"node id {tour[k] + 1} is outside 1..{size}",
                            section.line_of_token(k))
    # A permutation of 0..size-1 once no id repeats: find the earliest repeated visit.
    order = np.argsort(tour, kind="stable")
    repeats = order[1:][tour[order[1:]] == tour[order[:-1]]]
    if len(repeats):
        k = int(repeats.min())
        raise section.error(f"node id {tour[k] + 1} is visited twice", section.line_of_token(k))
    return tour


def format_tour(tour: np.ndarray, name: str, length: int | float | None = None) -> str:
    """TSPLIB text of a 0-based tour."""
    lines = [f"NAME: {name}"]
    if length is not None:
        lines.append(f"COMMENT: Length = {length}")
    lines += ["TYPE: TOUR", f"DIMENSION: {len(tour)}", "TOUR_SECTION"]
    lines += map(str, (np.asarray(tour, dtype=np.int64) + 1).tolist())
    return "\n".join([*lines, "-1", "EOF", ""])


def write_tour(
    path: str | os.PathLike[str], tour: np.ndarray, name: str, length: int | float | None = None
) -> None:
    """Write a 0-based tour as a TSPLIB ``.tour`` file (atomically), its length in the COMMENT."""
    write_text(path, format_tour(tour, name, length))

