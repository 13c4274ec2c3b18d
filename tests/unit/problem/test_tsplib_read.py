"""TSPLIB reading: every type parses, lengths match TSPLIB's published values, lenient headers."""

from __future__ import annotations

import math

import fast_tsp
import numpy as np
import pytest

from tsp_celery.problem import read_tsplib
from tsp_celery.problem.optima import OPTIMA

pytestmark = pytest.mark.timeout(30)

# instance -> (EDGE_WEIGHT_TYPE, EDGE_WEIGHT_FORMAT or None) as the file declares them
INSTANCES = {
    "burma14": ("GEO", "FUNCTION"),
    "ulysses22": ("GEO", None),
    "gr202": ("GEO", None),
    "gr17": ("EXPLICIT", "LOWER_DIAG_ROW"),
    "bays29": ("EXPLICIT", "FULL_MATRIX"),
    "brazil58": ("EXPLICIT", "UPPER_ROW"),
    "si175": ("EXPLICIT", "UPPER_DIAG_ROW"),
    "att48": ("ATT", None),
    "berlin52": ("EUC_2D", None),
    "eil101": ("EUC_2D", None),
    "kroA100": ("EUC_2D", None),
    "ch150": ("EUC_2D", None),
    "a280": ("EUC_2D", None),
    "pcb442": ("EUC_2D", None),
    "dsj1000": ("CEIL_2D", None),
}


@pytest.mark.parametrize("name", sorted(INSTANCES))
def test_every_shared_type_parses(data_dir, name):
    p = read_tsplib(data_dir / f"{name}.tsp")
    kind, _ = INSTANCES[name]
    assert p.edge_weight_type == kind
    assert p.n == int("".join(c for c in name if c.isdigit()))
    assert p.name.removesuffix(".tsp") == name  # ulysses22's NAME line says "ulysses22.tsp"
    assert (p.matrix is not None) == (kind == "EXPLICIT")
    assert p.comment or name == "si175"  # si175 has no COMMENT line


def test_canonical_tour_of_pcb442_matches_tsplib(data_dir):
    # TSPLIB 95 documentation: the tour 1, 2, ..., n of pcb442 has length 221440.
    p = read_tsplib(data_dir / "pcb442.tsp")
    assert p.tour_length(np.arange(p.n)) == 221440


@pytest.mark.parametrize("name", ["burma14", "gr17"])
def test_exact_optimum_matches_tsplib(data_dir, name):
    """Held-Karp (fast-tsp's exact solver) over our distances gives TSPLIB's proven optimum:
    checks GEO with EDGE_WEIGHT_FORMAT FUNCTION and LOWER_DIAG_ROW cell by cell in effect."""
    p = read_tsplib(data_dir / f"{name}.tsp")
    tour = fast_tsp.solve_tsp_exact(p.submatrix().tolist())
    assert p.tour_length(tour) == OPTIMA[name]


@pytest.mark.parametrize(
    "name", ["ulysses22", "att48", "bays29", "brazil58", "berlin52", "si175", "gr202"]
)
def test_heuristic_tour_never_beats_the_proven_optimum(data_dir, name):
    """A tour shorter than the proven optimum would mean our distances are too small; one far
    above it, that they are too large. fast-tsp finds these optima in 0.3 s (margin: 2 %)."""
    p = read_tsplib(data_dir / f"{name}.tsp")
    tour = fast_tsp.find_tour(p.submatrix().tolist(), 0.3)
    length = p.tour_length(p.validate_tour(np.asarray(tour)))
    assert OPTIMA[name] <= length <= 1.02 * OPTIMA[name]


def _tsplib_geo(a: tuple[float, float], b: tuple[float, float]) -> int:
    """TSPLIB 95's GEO distance, transcribed line by line from its documentation's C code
    (with the (int) truncation of degrees that the TSPLIB FAQ prescribes)."""

    def radians(x: float) -> float:
        deg = int(x)
        minutes = x - deg
        return 3.141592 * (deg + 5.0 * minutes / 3.0) / 180.0

    lat_i, lon_i, lat_j, lon_j = radians(a[0]), radians(a[1]), radians(b[0]), radians(b[1])
    q1 = math.cos(lon_i - lon_j)
    q2 = math.cos(lat_i - lat_j)
    q3 = math.cos(lat_i + lat_j)
    return int(6378.388 * math.acos(0.5 * ((1.0 + q1) * q2 - (1.0 - q1) * q3)) + 1.0)


@pytest.mark.parametrize("name", ["burma14", "ulysses22", "gr202"])
def test_geo_distances_follow_the_tsplib_formula(data_dir, name):
    p = read_tsplib(data_dir / f"{name}.tsp")
    m = p.submatrix()
    coords = p.coords.tolist()
    for i in range(p.n):
        for j in range(i + 1, p.n):
            assert m[i, j] == _tsplib_geo(coords[i], coords[j]), (i, j)


def test_geo_hand_computed_pair():
    # burma14 nodes 1 (16.47 96.10) and 3 (20.09 92.54), by hand from the formula:
    # lat 16 + 5*.47/3 = 16.78333 deg, 20 + 5*.09/3 = 20.15 deg; lon 96.16667, 92.9 deg;
    # 6378.388 * acos(...) = 509.31 km, +1 and truncated: 510.
    p = read_tsplib(
        "NAME: pair\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: GEO\nNODE_COORD_SECTION\n"
        "1 16.47 96.10\n2 16.47 94.44\n3 20.09 92.54\nEOF\n"
    )
    assert p.distances([0], [2])[0] == 510
    assert p.distances([0], [1])[0] == 153


BERLIN_HEAD = {
    "NAME": "b5",
    "TYPE": "TSP",
    "COMMENT": "five: with a colon",
    "DIMENSION": "5",
    "EDGE_WEIGHT_TYPE": "EUC_2D",
}
NODES = "1 565.0 575.0\n2 25.0 185.0\n3 345.0 750.0\n4 945.0 685.0\n5 845.0 655.0\n"


@pytest.mark.parametrize(
    "text",
    [
        # the plain form
        "".join(f"{k}: {v}\n" for k, v in BERLIN_HEAD.items()) + "NODE_COORD_SECTION\n" + NODES,
        # keys in another order, 'KEY : v', trailing spaces, EOF, blank lines
        "".join(f"{k} : {v}   \n\n" for k, v in reversed(BERLIN_HEAD.items()))
        + "NODE_COORD_SECTION  \n" + NODES + "EOF  \n\n",
        # no spaces at all, CRLF line ends, lower-case keys, indented numbers
        "".join(f"{k.lower()}:{v}\r\n" for k, v in BERLIN_HEAD.items())
        + "node_coord_section\r\n" + "".join(f"  {ln}\r\n" for ln in NODES.splitlines()),
        # nodes listed out of order, numbers in exponent notation, extra unknown keys
        "".join(f"{k}: {v}\n" for k, v in BERLIN_HEAD.items())
        + "NODE_COORD_TYPE: TWOD_COORDS\nDISPLAY_DATA_TYPE: COORD_DISPLAY\nNODE_COORD_SECTION\n"
        + "5 8.45e2 6.55e+02\n3 345 750\n1 565.0 575.0\n4 945 685\n2 2.5E1 185\n",
    ],
)
def test_header_variants_read_the_same(text):
    p = read_tsplib(text)
    assert (p.name, p.n, p.edge_weight_type) == ("b5", 5, "EUC_2D")
    assert p.comment == BERLIN_HEAD["COMMENT"]
    expected = np.array([[565, 575], [25, 185], [345, 750], [945, 685], [845, 655]], float)
    assert np.array_equal(p.coords, expected)


def test_type_with_annotation_is_tsp(data_dir):
    # si175 declares "TYPE: TSP (M.~Hofmeister)"
    assert "TYPE: TSP (M.~Hofmeister)" in (data_dir / "si175.tsp").read_text()
    assert read_tsplib(data_dir / "si175.tsp").n == 175


def test_display_data_is_kept(data_dir):
    p = read_tsplib(data_dir / "bays29.tsp")
    assert p.display is not None and p.display.shape == (29, 2)
    assert p.display[0].tolist() == [1150.0, 1760.0]
    assert np.array_equal(p.plot_coords, p.display)


def test_explicit_file_with_node_coords_keeps_them_for_display():
    p = read_tsplib(
        "NAME: e3\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EXPLICIT\n"
        "EDGE_WEIGHT_FORMAT: UPPER_ROW\nDISPLAY_DATA_TYPE: COORD_DISPLAY\n"
        "EDGE_WEIGHT_SECTION\n5 7\n9\nNODE_COORD_SECTION\n1 0 0\n2 5 0\n3 5 9\nEOF\n"
    )
    assert p.matrix.tolist() == [[0, 5, 7], [5, 0, 9], [7, 9, 0]]
    assert p.display.tolist() == [[0, 0], [5, 0], [5, 9]]


@pytest.mark.parametrize(
    "kind, expected",
    [("EUC_3D", [3, 11, 9]), ("MAN_3D", [5, 16, 13]), ("MAX_3D", [2, 9, 8])],
)
def test_three_dimensional_types(kind, expected):
    p = read_tsplib(
        f"NAME: t\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: {kind}\nNODE_COORD_SECTION\n"
        "1 0 0 0\n2 1 2 2\n3 9 6 1\nEOF\n"
    )
    assert p.coords.shape == (3, 3)
    assert p.distances([0, 0, 1], [1, 2, 2]).tolist() == expected


def test_gzip_file_is_read(tmp_path, data_dir):
    import gzip

    path = tmp_path / "berlin52.tsp.gz"
    path.write_bytes(gzip.compress((data_dir / "berlin52.tsp").read_bytes()))
    assert read_tsplib(path).tour_length(np.arange(52)) == read_tsplib(
        data_dir / "berlin52.tsp"
    ).tour_length(np.arange(52))
