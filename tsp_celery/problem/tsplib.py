"""TSPLIB ``.tsp`` files: reading every symmetric type, and writing coordinate and matrix problems.

Supported: TYPE TSP with EDGE_WEIGHT_TYPE EUC_2D, EUC_3D, CEIL_2D, ATT, GEO, MAN_2D/3D, MAX_2D/3D
(NODE_COORD_SECTION), or EXPLICIT in any of the nine EDGE_WEIGHT_FORMATs (EDGE_WEIGHT_SECTION).
DISPLAY_DATA_SECTION (or the coordinates of an EXPLICIT file) is kept as ``Problem.display``.
FIXED_EDGES_SECTION is read and ignored, with a warning, as are unknown keys and sections
(``Problem.warnings``). Everything else is refused with an error naming the file and line: ATSP,
HCP, CVRP, SOP, tour files, XRAY/SPECIAL distances, a DIMENSION the data does not match,
non-finite numbers, magnitudes beyond what keeps lengths exact (``limits``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tsp_celery.errors import InstanceError, UnsupportedInstanceError
from tsp_celery.problem import matrix_formats
from tsp_celery.problem.distance import FLOAT_EUCLIDEAN, FUNCTIONS
from tsp_celery.problem.limits import coordinate_fault, matrix_fault
from tsp_celery.problem.model import EXPLICIT, Problem
from tsp_celery.problem.textfile import normalize_text, read_text, write_text
from tsp_celery.problem.tsplib_scan import Scan, Section, scan

EDGE_WEIGHT_TYPES: tuple[str, ...] = (*(t for t in FUNCTIONS if t != FLOAT_EUCLIDEAN), EXPLICIT)
# TSPLIB defines these, we do not compute them (XRAY: crystallography; SPECIAL: user-defined).
_DEFINED_BUT_UNSUPPORTED = {"XRAY1", "XRAY2", "SPECIAL"}
_UNSUPPORTED_TYPES = {
    "ATSP": "TYPE ATSP (asymmetric) is not supported: only symmetric TSP (TYPE: TSP) is",
    "HCP": "TYPE HCP (Hamiltonian cycle) is not supported: only symmetric TSP is",
    "CVRP": "TYPE CVRP (vehicle routing) is not supported: only symmetric TSP is",
    "SOP": "TYPE SOP (sequential ordering) is not supported: only symmetric TSP is",
    "TOUR": "this is a tour file (TYPE: TOUR), not an instance; use it with `evaluate`",
}
# Sections of other problem types (CVRP, HCP) that a TSP file may still carry.
_FOREIGN_SECTIONS = ("DEPOT_SECTION", "DEMAND_SECTION", "EDGE_DATA_SECTION")


def read_tsplib(source: str | os.PathLike[str]) -> Problem:
    """Read a TSPLIB instance from a path, or from the text itself if ``source`` is a ``str``
    holding a newline (a path never does)."""
    if isinstance(source, str) and "\n" in source:
        return parse_tsplib(source)
    return parse_tsplib(read_text(source), str(source))


def parse_tsplib(text: str, path: str | None = None) -> Problem:
    """The Problem described by TSPLIB ``text``; ``path`` only names the file in errors."""
    s = scan(normalize_text(text), path)
    if not s.keys and not s.sections:
        raise InstanceError("not a TSPLIB file: no 'KEY: value' header", path)
    check_type(s)
    n = _dimension(s)
    kind = _edge_weight_type(s)
    name = s.value("NAME") or (Path(path).stem if path else "tsplib")
    comment = s.value("COMMENT") or ""
    # Everything the model would refuse is checked above or below, so its errors cannot occur
    # here and every error names the file and line.
    display = _display(s, n, kind)
    _note_ignored_sections(s)
    facts = {"comment": comment, "display": display, "warnings": tuple(s.warnings)}
    if kind == EXPLICIT:
        return Problem(name, EXPLICIT, matrix=_matrix(s, n), **facts)
    fmt = s.value("EDGE_WEIGHT_FORMAT")
    if fmt is not None and fmt.upper() != "FUNCTION":
        raise s.error(
            f"EDGE_WEIGHT_FORMAT {fmt} needs EDGE_WEIGHT_TYPE EXPLICIT, not {kind}",
            "EDGE_WEIGHT_FORMAT",
        )
    coords = _node_table(_section(s, "NODE_COORD_SECTION", kind), n, FUNCTIONS[kind][1])
    return Problem(name, kind, coords=coords, **facts)


def _note_ignored_sections(s: Scan) -> None:
    """Warn about the sections we read but do not use (after checking they hold numbers)."""
    if "FIXED_EDGES_SECTION" in s.sections:
        section = s.sections["FIXED_EDGES_SECTION"]
        values = section.numbers()
        ends = np.flatnonzero(values == -1)
        edges = (int(ends[0]) if len(ends) else values.size) // 2
        s.warn(section.line - 1, f"FIXED_EDGES_SECTION ({edges} edges) ignored: tours are "
                                 "not forced to use fixed edges")
    for name in _FOREIGN_SECTIONS:
        if name in s.sections:
            s.warn(s.sections[name].line - 1, f"{name} ignored: it has no meaning for TYPE TSP")


def check_type(s: Scan) -> None:
    """Refuse every TYPE but TSP (a missing TYPE is taken as TSP)."""
    raw = s.value("TYPE")
    if raw is None:
        return
    kind = raw.split()[0].upper() if raw.split() else ""
    if kind == "TSP":
        return
    message = _UNSUPPORTED_TYPES.get(kind, f"TYPE {raw!r} is not supported: only symmetric TSP is")
    raise UnsupportedInstanceError(message, s.path, s.keys["TYPE"].line)


def _dimension(s: Scan) -> int:
    raw = s.value("DIMENSION")
    if raw is None:
        raise s.missing("DIMENSION", "missing DIMENSION (the number of nodes)")
    try:
        n = int(raw)
    except ValueError:
        raise s.error(f"DIMENSION must be a whole number, got {raw!r}", "DIMENSION") from None
    if n < 3:
        raise s.error(f"DIMENSION is {n}: a tour needs at least 3 nodes", "DIMENSION")
    return n


def _edge_weight_type(s: Scan) -> str:
    supported = ", ".join(EDGE_WEIGHT_TYPES)
    raw = s.value("EDGE_WEIGHT_TYPE")
    if raw is None:
        raise s.missing("EDGE_WEIGHT_TYPE", f"missing EDGE_WEIGHT_TYPE (one of {supported})")
    kind = raw.upper()
    if kind in EDGE_WEIGHT_TYPES:
        return kind
    if kind in _DEFINED_BUT_UNSUPPORTED:
        raise UnsupportedInstanceError(
            f"EDGE_WEIGHT_TYPE {kind} is not supported (supported: {supported})",
            s.path, s.keys["EDGE_WEIGHT_TYPE"].line,
        )
    raise s.error(f"unknown EDGE_WEIGHT_TYPE {raw!r} (supported: {supported})",
                  "EDGE_WEIGHT_TYPE")


def _section(s: Scan, name: str, kind: str) -> Section:
    if name not in s.sections:
        raise s.missing(name, f"missing {name} (EDGE_WEIGHT_TYPE {kind} needs it)")
    return s.sections[name]


def _node_table(section: Section, n: int, dim: int) -> np.ndarray:
    """The (n, dim) coordinates of an ``id x y [z]`` section, ordered by node id 1..n."""
    table = section.rows(dim + 1, "id x y" if dim == 2 else "id x y z")
    if len(table) != n:
        line = section.line_of_row(n) if len(table) > n else None
        raise section.error(f"{section.name} has {len(table)} nodes but DIMENSION is {n}", line)
    expected = np.arange(1, n + 1)
    order = np.argsort(table[:, 0], kind="stable")
    ids = table[order, 0]
    if not np.array_equal(ids, expected):
        bad = int(np.flatnonzero(ids != expected)[0])
        raise section.error(
            f"{section.name}: node ids must be 1..{n}, each once; id {ids[bad]:g} is not",
            section.line_of_row(int(order[bad])),
        )
    coords = table[order, 1:]
    fault = coordinate_fault(coords)
    if fault:
        row, reason = fault
        line = section.line - 1 if row is None else section.line_of_row(int(order[row]))
        raise section.error(f"{section.name}: {reason}", line)
    return coords


def _display(s: Scan, n: int, kind: str) -> np.ndarray | None:
    """Drawing positions: DISPLAY_DATA_SECTION, or the NODE_COORD_SECTION of an EXPLICIT file."""
    if "DISPLAY_DATA_SECTION" in s.sections:
        return _node_table(s.sections["DISPLAY_DATA_SECTION"], n, 2)
    if kind == EXPLICIT and "NODE_COORD_SECTION" in s.sections:
        dim = 3 if (s.value("NODE_COORD_TYPE") or "").upper() == "THREED_COORDS" else 2
        return _node_table(s.sections["NODE_COORD_SECTION"], n, dim)[:, :2]
    return None


def _matrix(s: Scan, n: int) -> np.ndarray:
    """The full distance matrix of an EXPLICIT file, in any of the nine formats."""
    fmt = (s.value("EDGE_WEIGHT_FORMAT") or "").upper()
    if fmt not in matrix_formats.FORMATS:
        got = f"got {fmt!r}" if fmt else "it is missing"
        raise s.error(
            f"EDGE_WEIGHT_TYPE EXPLICIT needs an EDGE_WEIGHT_FORMAT of "
            f"{', '.join(matrix_formats.FORMATS)}; {got}", "EDGE_WEIGHT_FORMAT"
        )
    section = _section(s, "EDGE_WEIGHT_SECTION", EXPLICIT)
    values = section.numbers()
    need = matrix_formats.entry_count(n, fmt)
    if values.size != need:
        raise section.error(
            f"EDGE_WEIGHT_SECTION has {values.size} entries, but {fmt} with DIMENSION {n} "
            f"needs {need}"
        )
    fault = matrix_fault(values, n)
    if fault:
        k, reason = fault
        raise section.error(f"EDGE_WEIGHT_SECTION: {reason}",
                            None if k is None else section.line_of_token(k))
    if np.array_equal(values, np.round(values)):
        values = values.astype(np.int64)
    m = matrix_formats.expand(values, n, fmt)
    np.fill_diagonal(m, 0)  # tours never use the diagonal; solvers need it 0
    asym = np.argwhere(m != m.T)
    if len(asym):
        i, j = (int(v) for v in asym[0])
        raise UnsupportedInstanceError(
            f"FULL_MATRIX is not symmetric: d({i + 1},{j + 1}) = {m[i, j]} but "
            f"d({j + 1},{i + 1}) = {m[j, i]}; only symmetric TSP is supported",
            s.path, section.line - 1,
        )
    return m


# -- writing ------------------------------------------------------------------------------------
def _numbers(values: np.ndarray) -> list:
    """Python numbers that print exactly: ints when all values are whole, else shortest floats."""
    if np.issubdtype(values.dtype, np.integer) or np.array_equal(values, np.round(values)):
        return values.astype(np.int64).tolist()
    return values.astype(np.float64).tolist()


def _node_lines(coords: np.ndarray) -> list[str]:
    return [f"{i} {' '.join(map(str, row))}" for i, row in enumerate(_numbers(coords), 1)]


def format_tsplib(problem: Problem, matrix_format: str = matrix_formats.FULL_MATRIX) -> str:
    """TSPLIB text of a coordinate or explicit problem (``matrix_format`` for explicit ones)."""
    kind = problem.edge_weight_type
    if kind not in EDGE_WEIGHT_TYPES:
        raise ValueError(
            f"Expected a TSPLIB EDGE_WEIGHT_TYPE, got {kind}: plain-coordinate problems "
            "(float lengths) have no TSPLIB equivalent."
        )
    if matrix_format not in matrix_formats.FORMATS:
        raise ValueError(f"Expected one of {matrix_formats.FORMATS}, got {matrix_format!r}.")
    head = [f"NAME: {problem.name}"]
    if problem.comment:
        head.append(f"COMMENT: {' '.join(problem.comment.split())}")
    head += ["TYPE: TSP", f"DIMENSION: {problem.n}", f"EDGE_WEIGHT_TYPE: {kind}"]
    body: list[str] = []
    if problem.matrix is not None:
        head.append(f"EDGE_WEIGHT_FORMAT: {matrix_format}")
        values = _numbers(matrix_formats.flatten(problem.matrix, matrix_format))
        body.append("EDGE_WEIGHT_SECTION")
        start = 0
        for length in matrix_formats.line_lengths(problem.n, matrix_format):
            body.append(" ".join(map(str, values[start : start + length])))
            start += length
    else:
        assert problem.coords is not None
        body += ["NODE_COORD_SECTION", *_node_lines(problem.coords)]
    if problem.display is not None:
        head.append("DISPLAY_DATA_TYPE: TWOD_DISPLAY")
        body += ["DISPLAY_DATA_SECTION", *_node_lines(problem.display[:, :2])]
    return "\n".join([*head, *body, "EOF", ""])


def write_tsplib(
    problem: Problem, path: str | os.PathLike[str],
    matrix_format: str = matrix_formats.FULL_MATRIX,
) -> None:
    """Write ``problem`` as a TSPLIB file (atomically); see ``format_tsplib``."""
    write_text(path, format_tsplib(problem, matrix_format))
