"""The fast-tsp engine: valid tours within budget, also on matrices that must be scaled."""

from __future__ import annotations

import time

import numpy as np

from tsp_celery.solver.fasttsp import FastTspEngine, search_seconds


def test_scaled_matrix_gives_a_good_valid_tour(make_problem):
    p = make_problem(200, seed=7, span=3_000_000)
    m = p.submatrix()
    assert m.max() > 65535  # fast-tsp itself would refuse this matrix
    started = time.monotonic()
    tour = FastTspEngine().solve(m, 0.5, seed=0)
    assert time.monotonic() - started < 0.5 + 2.0
    tour = p.validate_tour(tour)
    # a locally optimal tour of random points is far shorter than a random order
    assert p.tour_length(tour) < 0.3 * p.tour_length(np.random.default_rng(0).permutation(p.n))


def test_kernel_gets_what_is_left_of_the_budget():
    assert search_seconds(1.0, 0.2) < 0.8
    assert search_seconds(1.0, 0.2) > 0.7
    assert search_seconds(1.0, 5.0) > 0  # a spent budget still yields a tour
