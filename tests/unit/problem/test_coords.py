"""Plain coordinate files (CSV or whitespace) and load_problem's choice between formats."""

from __future__ import annotations

import numpy as np
import pytest

from tsp_celery.errors import InstanceError
from tsp_celery.problem import load_problem

pytestmark = pytest.mark.timeout(10)

SQUARE = [[0.0, 0.0], [3.0, 0.0], [3.0, 4.0], [0.0, 4.0]]


def _load(tmp_path, text: str, name: str = "pts.txt"):
    path = tmp_path / name
    path.write_text(text)
    return load_problem(path)


@pytest.mark.parametrize(
    "text",
    [
        "0 0\n3 0\n3 4\n0 4\n",
        "0,0\n3,0\n3,4\n0,4\n",
        "x,y\n0,0\n3, 0\n3,4\n0 ,4\n",
        "# a comment\n\n  0\t0\n3 0\n\n3   4\r\n0 4",
        "id,x,y\n1,0,0\n2,3,0\n3,3,4\n4,0,4\n",
        "Y X ID\n0 0 1\n0 3 2\n4 3 3\n4 0 4\n",
        "lon,lat\n0,0\n3,0\n3,4\n0,4\n",
        "city,x,y\nBerlin,0,0\nHamburg,3,0\nMunich,3,4\nK\u00f6ln,0,4\n",
    ],
)
def test_formats_read_the_same(tmp_path, text):
    p = _load(tmp_path, text)
    assert p.edge_weight_type == "EUC_FLOAT" and not p.is_integral
    assert p.name == "pts"
    assert p.coords.tolist() == SQUARE
    assert p.tour_length([0, 1, 2, 3]) == 14.0


def test_lengths_are_not_rounded(tmp_path):
    p = _load(tmp_path, "0 0\n1 1\n2 0\n")
    assert p.tour_length([0, 1, 2]) == pytest.approx(2 * np.sqrt(2) + 2)


def test_three_columns_are_x_y_z_never_an_id(tmp_path):
    p = _load(tmp_path, "1 0 0\n2 0 0\n3 0 4\n")
    assert p.coords.shape == (3, 3)
    assert p.distances([0], [2])[0] == pytest.approx(np.sqrt(4 + 16))


@pytest.mark.parametrize(
    "text, message, line",
    [
        ("1 2 3 4\n5 6 7 8\n9 1 2 3\n", "expected 2 or 3 numbers per line", 1),
        ("0 0\n1 1\n2\n", "expected 2 fields like the first line, got 1", 3),
        ("0,0\n1,1\n2,,2\n", "expected 2 fields like the first line, got 3", 3),
        ("0 0\n1 one\n2 2\n", "'one' is not a number", 2),
        ("0 0\n1 nan\n2 2\n", "coordinates must be finite numbers", 2),
        ("0 0\n\n1 1\n2 inf\n", "coordinates must be finite numbers", 4),
        ("a,b,c,d\n1,2,3,4\n", "names no 'x' and 'y' columns", 1),
        ("city,x,y\nBerlin,0,0\nHamburg,three,0\n", "'three' is not a number", 3),
        ("city,x,y\nBerlin,0,0\nHamburg,3\n", "expected 3 fields like the first line", 3),
        ("# only a comment\n", "no coordinates in the file", None),
    ],
)
def test_bad_coordinate_files(tmp_path, text, message, line):
    with pytest.raises(InstanceError) as info:
        _load(tmp_path, text)
    assert message in info.value.message
    assert info.value.line == line
    assert info.value.path == str(tmp_path / "pts.txt")


def test_tsplib_is_recognised_by_content_not_extension(tmp_path, data_dir):
    p = _load(tmp_path, (data_dir / "berlin52.tsp").read_text(), name="berlin.csv")
    assert p.edge_weight_type == "EUC_2D" and p.n == 52
    q = _load(tmp_path, "0 0\n3 0\n3 4\n", name="points.tsp")
    assert q.edge_weight_type == "EUC_FLOAT"
