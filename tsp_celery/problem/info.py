"""What ``tsp-celery info`` reports about a file: facts for a usable instance, a reason otherwise.

The report is a plain dict with stable keys (path, name, type, n, comment, bbox, usable,
reason, optimum, warnings) so that ``info --json`` is a contract scripts can rely on. For a file
that cannot be solved, whatever its TSPLIB header says is still reported, with the reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tsp_celery.errors import InstanceError
from tsp_celery.problem.load import is_tsplib, parse_problem
from tsp_celery.problem.model import Problem
from tsp_celery.problem.optima import known_optimum
from tsp_celery.problem.textfile import read_text
from tsp_celery.problem.tsplib_scan import scan

KEYS = ("path", "name", "type", "n", "comment", "bbox", "usable", "reason", "optimum", "warnings")


def _plain(values: np.ndarray) -> list:
    """JSON-ready numbers: ints when whole, floats otherwise."""
    return [int(v) if float(v).is_integer() else float(v) for v in values]


def bounding_box(problem: Problem) -> dict | None:
    """Per-axis minimum and maximum of the coordinates (of an explicit matrix: of its display
    coordinates, which --plot draws); None for a matrix without them."""
    coords = problem.plot_coords
    if coords is None:
        return None
    return {"min": _plain(coords.min(axis=0)), "max": _plain(coords.max(axis=0))}


def describe(path: str | os.PathLike[str]) -> dict:
    """The info report of the instance file at ``path``.

    A file that is no text file at all (missing, a directory, empty, binary) raises
    InstanceError; a text file that is no usable instance gets ``usable: False`` and a reason.
    """
    text = read_text(path)
    try:
        problem = parse_problem(text, str(path))
    except InstanceError as exc:
        reason = exc.message if exc.line is None else f"line {exc.line}: {exc.message}"
        facts = {**_header_facts(text, path), "usable": False, "reason": reason}
        return {key: facts[key] for key in KEYS}
    return {
        "path": str(path),
        "name": problem.name,
        "type": problem.edge_weight_type,
        "n": problem.n,
        "comment": problem.comment,
        "bbox": bounding_box(problem),
        "usable": True,
        "reason": None,
        "optimum": known_optimum(problem.name, problem.n),
        "warnings": list(problem.warnings),
    }


def _header_facts(text: str, path: str | os.PathLike[str]) -> dict:
    """Name, type, n and comment as far as a TSPLIB header gives them (None where it does not)."""
    facts: dict = {"path": str(path), "name": Path(path).stem, "type": None, "n": None,
                   "comment": "", "bbox": None, "optimum": None, "warnings": []}
    try:
        found = scan(text, str(path)) if is_tsplib(text) else None
    except InstanceError:
        return facts
    header = found.keys if found else {}
    facts["warnings"] = found.warnings if found else []
    if "NAME" in header:
        facts["name"] = header["NAME"].value
    if "EDGE_WEIGHT_TYPE" in header:
        facts["type"] = header["EDGE_WEIGHT_TYPE"].value.upper()
    if "DIMENSION" in header and header["DIMENSION"].value.isdigit():
        facts["n"] = int(header["DIMENSION"].value)
    if "COMMENT" in header:
        facts["comment"] = header["COMMENT"].value
    return facts
