"""Held–Karp gives the optimum: brute force on tiny instances, burma14's published optimum."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tsp_celery.problem import Problem
from tsp_celery.solver.exact import MAX_EXACT_NODES, held_karp


def brute_force(d: np.ndarray) -> float:
    n = len(d)
    return min(
        d[0, p[0]] + sum(d[p[i], p[i + 1]] for i in range(n - 2)) + d[p[-1], 0]
        for p in itertools.permutations(range(1, n))
    )


def closed_length(d: np.ndarray, tour: np.ndarray) -> float:
    return float(d[tour, np.roll(tour, -1)].sum())


@pytest.mark.parametrize("n", range(3, 10))
@pytest.mark.parametrize("integral", [False, True])
def test_matches_brute_force(n, integral):
    rng = np.random.default_rng(n)
    xy = rng.random((n, 2)) * 1000
    d = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
    if integral:
        d = np.rint(d).astype(np.int64)
    tour = held_karp(d)
    assert sorted(tour.tolist()) == list(range(n))
    assert closed_length(d, tour) == pytest.approx(brute_force(d), abs=1e-9)


def test_burma14_optimum(burma14):
    tour = held_karp(burma14.submatrix())
    assert burma14.tour_length(burma14.validate_tour(tour)) == 3323


def test_sixteen_nodes_beat_every_rotation_of_a_random_tour():
    p = Problem.from_coords(np.random.default_rng(5).integers(0, 1000, (16, 2)), "EUC_2D")
    d = p.submatrix()
    tour = held_karp(d)
    assert len(tour) == 16
    rng = np.random.default_rng(0)
    assert all(p.tour_length(tour) <= p.tour_length(rng.permutation(16)) for _ in range(200))


def test_rejects_more_than_the_limit():
    with pytest.raises(ValueError, match="n <= 16"):
        held_karp(np.zeros((MAX_EXACT_NODES + 1, MAX_EXACT_NODES + 1)))
