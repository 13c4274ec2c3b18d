"""Magnitude limits: what is accepted keeps every tour length exact; what is refused says why,
whether the problem comes from a file or from arrays built in Python."""

from __future__ import annotations

import numpy as np
import pytest

from tsp_celery.errors import InstanceError
from tsp_celery.problem import Problem
from tsp_celery.problem.limits import EXACT_LENGTH_LIMIT, MAX_ABS_COORDINATE

pytestmark = pytest.mark.timeout(30)


def _square_matrix(edge: int) -> np.ndarray:
    """A 4-node matrix whose tour 0-1-2-3 uses four edges of length ``edge``."""
    m = np.full((4, 4), edge, dtype=np.int64)
    np.fill_diagonal(m, 0)
    return m


def test_largest_exact_matrix_gives_exact_lengths():
    edge = (EXACT_LENGTH_LIMIT - 1) // 4  # 4 edges: the longest tour stays below 2^53
    problem = Problem.from_matrix(_square_matrix(edge))
    length = problem.tour_length([0, 1, 2, 3])
    assert length == 4 * edge and int(float(length)) == length  # exact as int64 and as a double


def test_matrix_whose_tours_could_pass_2_to_the_53_is_refused():
    with pytest.raises(InstanceError, match=r"a tour of 4 nodes could be .* beyond 2\^53"):
        Problem.from_matrix(_square_matrix(EXACT_LENGTH_LIMIT // 4))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_arrays_are_refused_naming_the_row(bad):
    xy = np.zeros((5, 2))
    xy[3, 1] = bad
    with pytest.raises(InstanceError, match="row 3: coordinates must be finite numbers"):
        Problem.from_coords(xy, "EUC_2D")
    with pytest.raises(InstanceError, match="is not a distance"):
        Problem.from_matrix(np.where(np.eye(3) > 0, 0.0, bad))


def test_coordinates_beyond_the_bound_are_refused():
    xy = np.array([[0, 0], [MAX_ABS_COORDINATE, 0], [0, -MAX_ABS_COORDINATE * 1.01]])
    with pytest.raises(InstanceError, match=r"row 2: coordinates must lie within ±1e\+09"):
        Problem.from_coords(xy, "EUC_2D")


def test_many_nodes_spread_wide_are_refused_even_within_the_coordinate_bound():
    n = 2_300_000  # n * (4e9 + 1), the longest conceivable tour, passes 2^53
    corner = np.where(np.arange(n) % 2 == 0, -MAX_ABS_COORDINATE, MAX_ABS_COORDINATE)
    xy = np.column_stack([corner, corner])
    with pytest.raises(InstanceError, match=r"coordinates span 4e\+09: a tour of 2300000 nodes"):
        Problem.from_coords(xy, "EUC_2D")
    assert Problem.from_coords(xy[:2_000_000], "EUC_2D").n == 2_000_000
