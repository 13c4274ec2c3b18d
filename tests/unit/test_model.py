"""Problem model: exact TSPLIB distances, validation of instances and tours, identity hash."""

from __future__ import annotations

import numpy as np
import pytest

from tsp_celery.errors import InstanceError, TourError
from tsp_celery.problem import Problem

pytestmark = pytest.mark.timeout(10)


def _square(kind: str) -> Problem:
    return Problem.from_coords([[0, 0], [3, 0], [3, 4], [0, 4]], kind)


@pytest.mark.parametrize(
    "kind, diagonal",
    [("EUC_2D", 5), ("CEIL_2D", 5), ("MAN_2D", 7), ("MAX_2D", 4), ("EUC_FLOAT", 5.0)],
)
def test_coordinate_types(kind, diagonal):
    p = _square(kind)
    assert p.distances(np.array([0]), np.array([2]))[0] == diagonal


def test_rounding_rules_differ_between_types():
    p = [[0, 0], [1, 1]]  # sqrt(2) = 1.414...
    assert Problem.from_coords([*p, [5, 5]], "EUC_2D").distances([0], [1])[0] == 1
    assert Problem.from_coords([*p, [5, 5]], "CEIL_2D").distances([0], [1])[0] == 2
    # ATT: sqrt(2/10) = 0.447 -> nint 0 < 0.447 -> 1
    assert Problem.from_coords([*p, [5, 5]], "ATT").distances([0], [1])[0] == 1


def test_geo_uses_tsplib_formula():
    # burma14 nodes 1 and 2 (16.47 96.10) and (16.47 94.44): TSPLIB distance 153.
    p = Problem.from_coords([[16.47, 96.10], [16.47, 94.44], [20.09, 92.54]], "GEO")
    assert p.distances([0], [1])[0] == 153
    assert p.distances([0], [0])[0] == 0


def test_euc_3d():
    p = Problem.from_coords([[0, 0, 0], [1, 2, 2], [5, 5, 5]], "EUC_3D")
    assert p.distances([0], [1])[0] == 3


def test_submatrix_matches_pairwise_distances():
    rng = np.random.default_rng(1)
    p = Problem.from_coords(rng.integers(0, 1000, (700, 2)), "EUC_2D")
    m = p.submatrix()
    i, j = rng.integers(0, 700, 50), rng.integers(0, 700, 50)
    assert np.array_equal(m[i, j], p.distances(i, j))
    assert np.array_equal(m, m.T)
    order = np.arange(700)
    assert p.tour_length(order) == int(m[order, np.roll(order, -1)].sum())


def test_explicit_matrix_problem():
    m = [[0, 2, 9], [2, 0, 6], [9, 6, 0]]
    p = Problem.from_matrix(m)
    assert p.is_integral and p.n == 3
    assert p.tour_length([0, 1, 2]) == 17


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: Problem.from_coords([[0, 0], [1, 1]]), "at least 3"),
        (lambda: Problem.from_coords([[0, 0], [1, np.nan], [2, 2]]), "finite numbers, got 1 nan"),
        (lambda: Problem.from_matrix([[0, 1, 2], [2, 0, 1], [1, 1, 0]]), "symmetric"),
        (lambda: Problem.from_coords([[0, 0], [1, 1], [2, 2]], "NOPE"), "unknown"),
        (lambda: Problem.from_coords([[0, 0], [1, 1], [2, 2]], "EUC_3D"), "3 coordinates"),
    ],
)
def test_invalid_instances_are_refused(build, message):
    with pytest.raises(InstanceError, match=message):
        build()


@pytest.mark.parametrize("tour", [[0, 1], [0, 1, 1, 2], [0, 1, 2, 4], [0.0, 1.0, 2.0, 3.0]])
def test_invalid_tours_are_refused(tour):
    with pytest.raises(TourError):
        _square("EUC_2D").validate_tour(tour)


def test_content_hash_is_identity_of_distances():
    a, b = _square("EUC_2D"), _square("EUC_2D")
    assert a.content_hash() == b.content_hash()
    assert a.content_hash() != _square("CEIL_2D").content_hash()
