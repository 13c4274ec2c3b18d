"""Matrix-free construction: valid, deterministic per seed, far better than a random order."""

from __future__ import annotations

import numpy as np
import pytest

from tsp_celery.problem import Problem
from tsp_celery.solver.construct import greedy_tour, hilbert_tour, neighbour_lists
from tsp_celery.solver.units import initial_tour


def test_twenty_thousand_points_valid_and_deterministic(make_problem):
    p = make_problem(20_000, seed=11, span=1_000_000)
    a = initial_tour(p, seed=3, polish_s=0)
    b = initial_tour(p, seed=3, polish_s=0)
    p.validate_tour(a)
    np.testing.assert_array_equal(a, b)
    # greedy edge is ~15-25 % above optimal; a space-filling curve ~25-40 %
    assert p.tour_length(a) < 0.95 * p.tour_length(hilbert_tour(p.coords))


def test_polish_shortens_greedy_and_is_deterministic_when_it_converges(make_problem):
    p = make_problem(1000, seed=12)
    greedy = initial_tour(p, seed=1, polish_s=0)
    polished = initial_tour(p, seed=1, polish_s=60)
    np.testing.assert_array_equal(polished, initial_tour(p, seed=1, polish_s=60))
    assert p.tour_length(polished) < 0.97 * p.tour_length(greedy)


def test_seeds_break_ties_differently_on_a_grid():
    xy = np.array([(x, y) for x in range(20) for y in range(20)])
    p = Problem.from_coords(xy, "EUC_2D")
    tours = {tuple(greedy_tour(p, seed=s)) for s in range(4)}
    assert len(tours) > 1
    for t in tours:
        p.validate_tour(np.array(t))


@pytest.mark.parametrize("kind", ["GEO", "MAN_2D", "MAX_2D", "ATT", "CEIL_2D", "EUC_FLOAT"])
def test_every_coordinate_type(kind, make_problem):
    p = make_problem(500, seed=13, kind=kind, span=90 if kind == "GEO" else 10_000)
    tour = p.validate_tour(initial_tour(p, polish_s=0))
    rand = np.random.default_rng(0).permutation(p.n)
    assert p.tour_length(tour) < 0.5 * p.tour_length(rand)


def test_explicit_matrix_problem(burma14, make_problem):
    m = make_problem(300, seed=14).submatrix()
    p = Problem.from_matrix(m)
    tour = p.validate_tour(initial_tour(p, polish_s=0))
    assert p.tour_length(tour) < 0.5 * p.tour_length(np.random.default_rng(0).permutation(300))
    small = Problem.from_matrix(burma14.submatrix())
    small.validate_tour(initial_tour(small))


def test_tiny_problems():
    p = Problem.from_coords([[0, 0], [1, 0], [0, 1]], "EUC_2D")
    np.testing.assert_array_equal(initial_tour(p), [0, 1, 2])


def test_neighbour_lists_are_the_nearest_sorted(make_problem):
    p = make_problem(400, seed=15)
    nb, d = neighbour_lists(p, 6)
    full = p.submatrix().astype(float)
    np.fill_diagonal(full, np.inf)
    np.testing.assert_array_equal(d, np.sort(full, axis=1)[:, :6])
    assert (np.diff(d, axis=1) >= 0).all()
    np.testing.assert_array_equal(full[np.arange(400)[:, None], nb], d)


def test_hilbert_tour_is_a_permutation_and_local(make_problem):
    p = make_problem(2000, seed=16)
    tour = p.validate_tour(hilbert_tour(p.coords))
    assert p.tour_length(tour) < 0.2 * p.tour_length(np.random.default_rng(0).permutation(p.n))


def test_neighbour_lists_never_hold_the_node_itself_with_duplicate_points():
    xy = np.repeat(np.random.default_rng(17).integers(0, 50, (100, 2)), 3, axis=0)
    nb, _ = neighbour_lists(Problem.from_coords(xy, "EUC_2D"), 5)
    assert not (nb == np.arange(300)[:, None]).any()
