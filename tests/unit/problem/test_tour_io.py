"""TSPLIB .tour files: round trip, 1-based ids, -1 terminator, validation against n."""

from __future__ import annotations

import numpy as np
import pytest

from tsp_celery.errors import InstanceError
from tsp_celery.problem import read_tour, write_tour

pytestmark = pytest.mark.timeout(10)


def _tour_file(tmp_path, body: str, head: str = "NAME: t\nTYPE: TOUR\nDIMENSION: 5\n"):
    path = tmp_path / "t.tour"
    path.write_text(head + "TOUR_SECTION\n" + body)
    return path


def test_round_trip(tmp_path):
    tour = np.random.default_rng(0).permutation(1000)
    write_tour(tmp_path / "r.tour", tour, "r1000", 12345)
    text = (tmp_path / "r.tour").read_text()
    assert "COMMENT: Length = 12345" in text and "DIMENSION: 1000" in text
    assert text.split("TOUR_SECTION\n")[1].split()[0] == str(tour[0] + 1)  # written 1-based
    assert text.rstrip().endswith("-1\nEOF")
    assert np.array_equal(read_tour(tmp_path / "r.tour", 1000), tour)


def test_ids_are_one_based_and_may_share_lines(tmp_path):
    path = _tour_file(tmp_path, "3 1 5\n2\n4 -1\nEOF\n")
    assert read_tour(path, 5).tolist() == [2, 0, 4, 1, 3]


def test_missing_terminator_and_eof_is_accepted(tmp_path):
    assert read_tour(_tour_file(tmp_path, "1\n2\n3\n4\n5\n"), 5).tolist() == [0, 1, 2, 3, 4]


def test_only_the_first_tour_is_read(tmp_path):
    path = _tour_file(tmp_path, "1 2 3 4 5 -1\n5 4 3 2 1 -1\n-1\nEOF\n")
    assert read_tour(path, 5).tolist() == [0, 1, 2, 3, 4]


def test_dimension_is_optional_and_n_is_optional(tmp_path):
    path = _tour_file(tmp_path, "2 1 3 -1\n", head="NAME: t\n")
    assert read_tour(path).tolist() == [1, 0, 2]


@pytest.mark.parametrize(
    "body, n, message, line",
    [
        ("1 2 3 4 -1\n", 5, "the tour has 4 nodes but the instance has 5", 4),
        ("1 2 3 4 5 6 -1\n", 5, "the tour has 6 nodes but the instance has 5", 4),
        ("1 2 3\n9 5 -1\n", 5, "node id 9 is outside 1..5", 6),
        ("1 2 0 4 5 -1\n", 5, "node id 0 is outside 1..5", 5),
        ("1 2 3\n4\n2 -1\n", 5, "node id 2 is visited twice", 7),
        ("1 2 3.5 4 5 -1\n", 5, "node id 3.5 is not a whole number", 5),
        ("1 2 x 4 5 -1\n", 5, "TOUR_SECTION: 'x' is not a number", 5),
    ],
)
def test_invalid_tours(tmp_path, body, n, message, line):
    path = _tour_file(tmp_path, body)
    with pytest.raises(InstanceError) as info:
        read_tour(path, n)
    assert (info.value.message, info.value.line, info.value.path) == (message, line, str(path))


def test_dimension_must_match_the_instance(tmp_path):
    with pytest.raises(InstanceError, match="tour DIMENSION is 5 but the instance has 6"):
        read_tour(_tour_file(tmp_path, "1 2 3 4 5 -1\n"), 6)


def test_an_instance_is_not_a_tour(data_dir):
    with pytest.raises(InstanceError, match="TYPE is TSP, expected TOUR"):
        read_tour(data_dir / "burma14.tsp", 14)


def test_missing_tour_section(tmp_path):
    path = tmp_path / "t.tour"
    path.write_text("NAME: t\nTYPE: TOUR\nDIMENSION: 3\nEOF\n")
    with pytest.raises(InstanceError, match="missing TOUR_SECTION"):
        read_tour(path, 3)


def test_missing_file(tmp_path):
    with pytest.raises(InstanceError, match="no such file"):
        read_tour(tmp_path / "none.tour", 3)
