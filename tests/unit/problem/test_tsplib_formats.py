"""EXPLICIT matrix formats against hand-built lists, and the TSPLIB writer round trip."""

from __future__ import annotations

import numpy as np
import pytest

from tsp_celery.problem import Problem, read_tsplib, write_tsplib
from tsp_celery.problem.matrix_formats import FORMATS
from tsp_celery.problem.tsplib import format_tsplib

pytestmark = pytest.mark.timeout(20)

# d(i, j) spelled as the two 1-based node numbers: d(1,2) = 12, d(3,4) = 34, ...
M4 = [[0, 12, 13, 14], [12, 0, 23, 24], [13, 23, 0, 34], [14, 24, 34, 0]]

# Each format's entry list for M4, written out by hand from the TSPLIB 95 definitions.
HAND_BUILT = {
    "FULL_MATRIX": "0 12 13 14 12 0 23 24 13 23 0 34 14 24 34 0",
    "UPPER_ROW": "12 13 14 23 24 34",  # rows: (12 13 14) (23 24) (34)
    "LOWER_ROW": "12 13 23 14 24 34",  # rows: (21) (31 32) (41 42 43)
    "UPPER_DIAG_ROW": "0 12 13 14 0 23 24 0 34 0",
    "LOWER_DIAG_ROW": "0 12 0 13 23 0 14 24 34 0",
    "UPPER_COL": "12 13 23 14 24 34",  # columns: (12) (13 23) (14 24 34)
    "LOWER_COL": "12 13 14 23 24 34",  # columns: (21 31 41) (32 42) (43)
    "UPPER_DIAG_COL": "0 12 0 13 23 0 14 24 34 0",  # columns: (11) (12 22) (13 23 33) ...
    "LOWER_DIAG_COL": "0 12 13 14 0 23 24 0 34 0",  # columns: (11 21 31 41) (22 32 42) ...
}


def _explicit(fmt: str, entries: str, n: int = 4) -> str:
    return (
        f"NAME: m{n}\nTYPE: TSP\nDIMENSION: {n}\nEDGE_WEIGHT_TYPE: EXPLICIT\n"
        f"EDGE_WEIGHT_FORMAT: {fmt}\nEDGE_WEIGHT_SECTION\n{entries}\nEOF\n"
    )


def test_every_format_is_covered():
    assert set(HAND_BUILT) == set(FORMATS)


@pytest.mark.parametrize("fmt", sorted(HAND_BUILT))
def test_hand_built_list_reads_as_the_matrix(fmt):
    assert read_tsplib(_explicit(fmt, HAND_BUILT[fmt])).matrix.tolist() == M4


@pytest.mark.parametrize("fmt", sorted(HAND_BUILT))
def test_line_breaks_inside_the_section_do_not_matter(fmt):
    tokens = HAND_BUILT[fmt].split()
    wrapped = "\n".join(" ".join(tokens[k : k + 3]) for k in range(0, len(tokens), 3))
    assert read_tsplib(_explicit(fmt, wrapped)).matrix.tolist() == M4


@pytest.mark.parametrize("fmt", sorted(HAND_BUILT))
def test_writer_lists_entries_as_the_hand_built_list(fmt):
    text = format_tsplib(Problem.from_matrix(M4, name="m4"), fmt)
    section = text.split("EDGE_WEIGHT_SECTION\n")[1].split("EOF")[0]
    assert section.split() == HAND_BUILT[fmt].split()


@pytest.mark.parametrize("fmt", sorted(HAND_BUILT))
def test_real_matrices_round_trip_through_every_format(data_dir, tmp_path, fmt):
    for name in ("gr17", "bays29", "brazil58", "si175"):
        original = read_tsplib(data_dir / f"{name}.tsp")
        write_tsplib(original, tmp_path / "m.tsp", matrix_format=fmt)
        again = read_tsplib(tmp_path / "m.tsp")
        assert np.array_equal(again.matrix, original.matrix), name
        assert again.matrix.dtype == np.int64


def test_float_matrix_round_trips_exactly(tmp_path):
    rng = np.random.default_rng(3)
    a = rng.uniform(0, 100, (7, 7))
    m = np.triu(a, 1) + np.triu(a, 1).T
    for fmt in FORMATS:
        write_tsplib(Problem.from_matrix(m), tmp_path / "f.tsp", matrix_format=fmt)
        assert np.array_equal(read_tsplib(tmp_path / "f.tsp").matrix, m), fmt


@pytest.mark.parametrize(
    "name", ["burma14", "ulysses22", "gr202", "att48", "berlin52", "ch150", "dsj1000", "bays29"]
)
def test_instances_round_trip_through_the_writer(data_dir, tmp_path, name):
    original = read_tsplib(data_dir / f"{name}.tsp")
    write_tsplib(original, tmp_path / "w.tsp")
    again = read_tsplib(tmp_path / "w.tsp")
    assert (again.name, again.edge_weight_type, again.comment) == (
        original.name, original.edge_weight_type, original.comment
    )
    for field in ("coords", "matrix", "display"):
        a, b = getattr(original, field), getattr(again, field)
        assert (a is None and b is None) or np.array_equal(a, b), field
    assert again.tour_length(np.arange(again.n)) == original.tour_length(np.arange(original.n))


def test_three_dimensional_problem_round_trips(tmp_path):
    p = Problem.from_coords([[0, 0, 0], [1.5, 2, 2], [9, 6, -1.25]], "MAN_3D", name="t3")
    write_tsplib(p, tmp_path / "t3.tsp")
    assert np.array_equal(read_tsplib(tmp_path / "t3.tsp").coords, p.coords)


def test_writer_refuses_float_euclidean_problems(tmp_path):
    p = Problem.from_coords([[0, 0], [1, 0], [0, 1]])
    with pytest.raises(ValueError, match="no TSPLIB equivalent"):
        write_tsplib(p, tmp_path / "x.tsp")
    assert not (tmp_path / "x.tsp").exists()
