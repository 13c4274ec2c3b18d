"""Writing a Result to a file whose extension picks the format.

- ``.tour``: TSPLIB tour file (1-based node ids, ``-1`` and ``EOF``), readable by every TSPLIB tool;
- ``.json``: ``Result.to_dict()`` (0-based tour, lengths, proof, trace, stats);
- ``.csv``: ``order,node[,x,y]``, one row per visit; ``node`` is the instance's 1-based node id
  (as in the TSPLIB file) so rows join with the instance; x, y when the instance has coordinates.
"""

from __future__ import annotations

import os
from pathlib import Path

from tsp_celery.lengths import plain_number
from tsp_celery.problem import Problem
from tsp_celery.problem.textfile import write_text
from tsp_celery.result import Result

FORMATS = (".tour", ".json", ".csv")


def output_format(path: str | os.PathLike[str]) -> str:
    """The format a path asks for, or ValueError naming the ones we write."""
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise ValueError(
            f"Expected an output file ending in {', '.join(FORMATS)}, got {str(path)!r}."
        )
    return ext


def csv_text(result: Result, problem: Problem | None = None) -> str:
    """The result as CSV rows ``order,node[,x,y]`` (node ids 1-based, as in the instance file)."""
    coords = problem.plot_coords if problem is not None else None
    lines = ["order,node,x,y" if coords is not None else "order,node"]
    for order, node in enumerate(result.tour):
        row = f"{order},{node + 1}"
        if coords is not None:
            row += f",{plain_number(coords[node, 0])},{plain_number(coords[node, 1])}"
        lines.append(row)
    return "\n".join(lines) + "\n"


def write_result(
    result: Result, path: str | os.PathLike[str], problem: Problem | None = None
) -> Path:
    """Write ``result`` to ``path`` in the format its extension names (atomically)."""
    ext = output_format(path)
    if ext == ".tour":
        result.to_tsplib(path)
    elif ext == ".json":
        write_text(path, result.to_json(indent=1) + "\n")
    else:
        write_text(path, csv_text(result, problem))
    return Path(path)

