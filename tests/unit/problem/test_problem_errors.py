"""Bad input fails early with one specific line naming the file and, where it can, the line."""

from __future__ import annotations

import numpy as np
import pytest

from tsp_celery.errors import InstanceError, UnsupportedInstanceError
from tsp_celery.problem import load_problem, read_tsplib

pytestmark = pytest.mark.timeout(10)

HEAD = "NAME: t\nTYPE: TSP\nDIMENSION: {n}\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n"
NODES = ["1 0 0", "2 3 0", "3 3 4", "4 0 4"]


def _write(tmp_path, text: str, name: str = "bad.tsp"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _fails(path, cls=InstanceError) -> InstanceError:
    """Load ``path``; return the error after checking it is one line and names the file."""
    with pytest.raises(cls) as info:
        load_problem(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    return info.value


def _coords(tmp_path, nodes: list[str], n: int = 4):
    return _write(tmp_path, HEAD.format(n=n) + "\n".join(nodes) + "\nEOF\n")


def test_good_file_loads(tmp_path):
    assert load_problem(_coords(tmp_path, NODES)).tour_length([0, 1, 2, 3]) == 14


def test_missing_edge_weight_type(tmp_path):
    path = _write(tmp_path, "NAME: t\nTYPE: TSP\nDIMENSION: 4\nNODE_COORD_SECTION\n"
                  + "\n".join(NODES))
    assert "missing EDGE_WEIGHT_TYPE" in _fails(path).message


def test_unknown_edge_weight_type(tmp_path):
    path = _write(tmp_path, HEAD.format(n=4).replace("EUC_2D", "EUC_4D") + "\n".join(NODES))
    err = _fails(path)
    assert "unknown EDGE_WEIGHT_TYPE 'EUC_4D'" in err.message and "EUC_2D" in err.message
    assert err.line == 4


@pytest.mark.parametrize("kind", ["XRAY1", "XRAY2", "SPECIAL"])
def test_tsplib_types_we_do_not_compute(tmp_path, kind):
    path = _write(tmp_path, HEAD.format(n=4).replace("EUC_2D", kind) + "\n".join(NODES))
    err = _fails(path, UnsupportedInstanceError)
    assert f"EDGE_WEIGHT_TYPE {kind} is not supported" in err.message


def test_fewer_nodes_than_dimension(tmp_path):
    err = _fails(_coords(tmp_path, NODES[:3], n=4))
    assert err.message == "NODE_COORD_SECTION has 3 nodes but DIMENSION is 4"


def test_more_nodes_than_dimension_names_the_first_extra_line(tmp_path):
    err = _fails(_coords(tmp_path, [*NODES, "5 9 9"], n=4))
    assert err.message == "NODE_COORD_SECTION has 5 nodes but DIMENSION is 4"
    assert err.line == 10  # 5 header lines, then nodes on lines 6..10


def test_non_numeric_coordinate(tmp_path):
    err = _fails(_coords(tmp_path, ["1 0 0", "2 3 x0", "3 3 4", "4 0 4"]))
    assert err.message == "NODE_COORD_SECTION: 'x0' is not a number" and err.line == 7


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity"])
def test_non_finite_coordinate(tmp_path, value):
    err = _fails(_coords(tmp_path, ["1 0 0", "2 3 0", f"3 {value} 4", "4 0 4"]))
    assert "coordinates must be finite" in err.message and err.line == 8


@pytest.mark.parametrize("value", ["1e300", "-1000000001", "1.5e9"])
def test_coordinate_beyond_exact_range(tmp_path, value):
    err = _fails(_coords(tmp_path, ["1 0 0", "2 3 0", f"3 {value} 4", "4 0 4"]))
    assert "coordinates must lie within ±1e+09 so that lengths stay exact" in err.message
    assert err.line == 8


def test_largest_accepted_coordinate_keeps_lengths_exact(tmp_path):
    problem = load_problem(_coords(tmp_path, ["1 -1e9 -1e9", "2 1e9 -1e9", "3 1e9 1e9",
                                              "4 -1e9 1e9"]))
    assert problem.tour_length([0, 1, 2, 3]) == 8 * 10**9


def test_wrong_number_of_columns(tmp_path):
    err = _fails(_coords(tmp_path, ["1 0 0", "2 3", "3 3 4", "4 0 4"]))
    assert "expected 3 numbers (id x y) per line, got 2" in err.message and err.line == 7


def test_duplicate_node_id(tmp_path):
    err = _fails(_coords(tmp_path, ["1 0 0", "2 3 0", "2 3 4", "4 0 4"]))
    assert "node ids must be 1..4" in err.message and err.line == 8


@pytest.mark.parametrize(
    "entries, count",
    [("1 2 3 4 5", 5), ("1 2 3 4 5 6 7", 7)],
)
def test_wrong_matrix_entry_count(tmp_path, entries, count):
    path = _write(tmp_path, "NAME: m\nTYPE: TSP\nDIMENSION: 4\nEDGE_WEIGHT_TYPE: EXPLICIT\n"
                  f"EDGE_WEIGHT_FORMAT: UPPER_ROW\nEDGE_WEIGHT_SECTION\n{entries}\nEOF\n")
    err = _fails(path)
    assert err.message == (
        f"EDGE_WEIGHT_SECTION has {count} entries, but UPPER_ROW with DIMENSION 4 needs 6"
    )
    assert err.line == 6


@pytest.mark.parametrize("bad", ["-1", "nan", "abc"])
def test_bad_matrix_entry(tmp_path, bad):
    path = _write(tmp_path, "NAME: m\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EXPLICIT\n"
                  f"EDGE_WEIGHT_FORMAT: UPPER_ROW\nEDGE_WEIGHT_SECTION\n1 2\n{bad}\n")
    assert _fails(path).line == 8


def test_asymmetric_full_matrix(tmp_path):
    path = _write(tmp_path, "NAME: m\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EXPLICIT\n"
                  "EDGE_WEIGHT_FORMAT: FULL_MATRIX\nEDGE_WEIGHT_SECTION\n0 1 2\n1 0 3\n2 4 0\n")
    err = _fails(path, UnsupportedInstanceError)
    assert "not symmetric" in err.message and "only symmetric TSP" in err.message


def test_explicit_without_format(tmp_path):
    path = _write(tmp_path, "NAME: m\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EXPLICIT\n"
                  "EDGE_WEIGHT_SECTION\n1 2 3\n")
    assert "needs an EDGE_WEIGHT_FORMAT" in _fails(path).message


@pytest.mark.parametrize(
    "kind, says",
    [
        ("ATSP", "only symmetric TSP (TYPE: TSP) is"),
        ("HCP", "HCP (Hamiltonian cycle) is not supported"),
        ("CVRP", "CVRP (vehicle routing) is not supported"),
        ("SOP", "SOP (sequential ordering) is not supported"),
        ("TOUR", "this is a tour file"),
        ("KTSP", "TYPE 'KTSP' is not supported"),
    ],
)
def test_unsupported_problem_types(tmp_path, kind, says):
    path = _write(tmp_path, (HEAD.format(n=4) + "\n".join(NODES)).replace("TSP\n", f"{kind}\n", 1))
    err = _fails(path, UnsupportedInstanceError)
    assert says in err.message and err.line == 2


@pytest.mark.parametrize("n", [0, 1, 2])
def test_fewer_than_three_nodes(tmp_path, n):
    err = _fails(_coords(tmp_path, NODES[:n], n=n))
    assert "a tour needs at least 3 nodes" in err.message and err.line == 3


def test_two_points_in_a_coordinate_file(tmp_path):
    assert "at least 3 nodes" in _fails(_write(tmp_path, "0 0\n1 1\n", "two.csv")).message


@pytest.mark.parametrize("dimension", ["", "four", "4.5", "-4"])
def test_bad_or_missing_dimension(tmp_path, dimension):
    text = HEAD.format(n=dimension) + "\n".join(NODES)
    if not dimension:
        text = text.replace("DIMENSION: \n", "")
    assert "DIMENSION" in _fails(_write(tmp_path, text)).message


def test_missing_node_coord_section(tmp_path):
    path = _write(tmp_path, HEAD.format(n=4).replace("NODE_COORD_SECTION\n", "EOF\n"))
    assert "missing NODE_COORD_SECTION" in _fails(path).message


def test_junk_line_in_the_header(tmp_path):
    path = _write(tmp_path, "NAME: t\nthis is not a header line\n" + HEAD.format(n=4)[8:]
                  + "\n".join(NODES))
    err = _fails(path)
    assert err.line == 2 and "unexpected line 'this is not a header line'" in err.message


def test_key_given_twice(tmp_path):
    path = _write(tmp_path, "DIMENSION: 4\n" + HEAD.format(n=4) + "\n".join(NODES))
    err = _fails(path)
    assert err.message == "DIMENSION is given twice" and err.line == 4


def test_png_is_refused_as_binary(tmp_path):
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10" + bytes(range(256))
    path = tmp_path / "picture.tsp"
    path.write_bytes(png)
    assert _fails(path).message == "binary file, not a text instance or tour"


def test_random_bytes_are_refused_as_binary(tmp_path):
    path = tmp_path / "noise.tsp"
    path.write_bytes(np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    assert _fails(path).message == "binary file, not a text instance or tour"


def test_missing_file(tmp_path):
    assert _fails(tmp_path / "nope.tsp").message == "no such file"


def test_directory_instead_of_file(tmp_path):
    assert _fails(tmp_path).message == "is a directory, not a file"


@pytest.mark.parametrize("content", ["", "   \n\n\t\n"])
def test_empty_file(tmp_path, content):
    assert _fails(_write(tmp_path, content)).message == "file is empty"


def test_text_source_errors_name_no_file():
    with pytest.raises(InstanceError) as info:
        read_tsplib(HEAD.format(n=4) + "1 0 0\n")
    assert str(info.value).startswith("NODE_COORD_SECTION has 1 nodes")
