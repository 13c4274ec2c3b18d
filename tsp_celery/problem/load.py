"""``load_problem``: one entry point for every instance file, dispatched by content.

A file is TSPLIB when a line starts with a TSPLIB keyword followed by ':' or the end of the line
(``NAME:``, ``DIMENSION :``, ``NODE_COORD_SECTION`` ...); anything else is read as a plain
coordinate file. The extension is not consulted: ``.txt`` TSPLIB files and ``.tsp`` CSVs exist.
"""

from __future__ import annotations

import os
import re

from tsp_celery.problem.coords import parse_coords
from tsp_celery.problem.model import Problem
from tsp_celery.problem.textfile import MAX_INSTANCE_BYTES, normalize_text, read_text
from tsp_celery.problem.tsplib import parse_tsplib

_TSPLIB_KEYWORD = re.compile(
    r"^[ \t]*(NAME|TYPE|COMMENT|DIMENSION|EDGE_WEIGHT_TYPE|EDGE_WEIGHT_FORMAT|"
    r"NODE_COORD_SECTION|EDGE_WEIGHT_SECTION|TOUR_SECTION)[ \t]*(:|$)",
    re.M | re.I,
)


def is_tsplib(text: str) -> bool:
    """True when ``text`` has a TSPLIB keyword line (see the module docstring)."""
    return _TSPLIB_KEYWORD.search(text) is not None


def load_problem(path: str | os.PathLike[str], max_bytes: int = MAX_INSTANCE_BYTES) -> Problem:
    """The instance in ``path``: TSPLIB ``.tsp`` or a plain coordinate file, by content; files
    over ``max_bytes`` (after decompression) are refused."""
    return parse_problem(read_text(path, max_bytes), str(path))


def parse_problem(text: str, path: str | None = None) -> Problem:
    """The instance in ``text`` (TSPLIB or coordinates); ``path`` names the file in errors."""
    text = normalize_text(text)
    if is_tsplib(text):
        return parse_tsplib(text, path)
    return parse_coords(text, path)
