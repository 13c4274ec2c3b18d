"""Exact 2-opt/Or-opt polish: valid, never longer, removes what a random order leaves."""

from __future__ import annotations

import numpy as np
import pytest

from tsp_celery.problem import Problem
from tsp_celery.solver.polish import _Tour, polish


@pytest.mark.parametrize("kind", ["EUC_2D", "EUC_FLOAT", "GEO"])
def test_polish_is_valid_and_much_shorter(make_problem, kind):
    p = make_problem(600, seed=41, kind=kind, span=90 if kind == "GEO" else 10_000)
    rand = np.random.default_rng(0).permutation(p.n)
    out = p.validate_tour(polish(p, rand, 30.0))
    assert p.tour_length(out) < 0.25 * p.tour_length(rand)


def test_polish_never_lengthens_a_good_tour(make_problem):
    p = make_problem(400, seed=42)
    good = polish(p, np.arange(p.n), 30.0)
    again = polish(p, good, 30.0)
    assert p.tour_length(again) <= p.tour_length(good)


def test_zero_budget_returns_a_valid_tour(make_problem):
    p = make_problem(2000, seed=43)
    rand = np.random.default_rng(1).permutation(p.n)
    out = p.validate_tour(polish(p, rand, 0.0))
    assert p.tour_length(out) <= p.tour_length(rand)


def test_tiny_problem_is_returned_as_is():
    p = Problem.from_coords([[0, 0], [3, 0], [0, 4], [1, 1]], "EUC_2D")
    np.testing.assert_array_equal(polish(p, np.array([0, 1, 2, 3]), 1.0), [0, 1, 2, 3])


@pytest.mark.parametrize("seed", range(5))
def test_tour_moves_keep_a_permutation_with_the_right_neighbours(seed):
    rng = np.random.default_rng(seed)
    n = 23
    t = _Tour(rng.permutation(n))
    for _ in range(200):
        a, b = (int(x) for x in rng.choice(n, 2, replace=False))
        if rng.random() < 0.5:
            before = t.t.copy()
            ia, ib = int(t.pos[a]), int(t.pos[b])
            t.reverse(a, b)
            idx = (ia + np.arange((ib - ia) % n + 1)) % n
            ref = before.copy()
            ref[idx] = before[idx][::-1]
            assert _same_cycle(t.t, ref)
        else:
            count = int(rng.integers(1, 4))
            seg = [a]
            for _ in range(count - 1):
                seg.append(t.succ(seg[-1]))
            if b in seg or t.succ(seg[-1]) == b:
                continue
            flip = bool(rng.random() < 0.5)
            t.move(a, count, b, flip)
            moved = seg[::-1] if flip else seg
            assert [t.succ(b)] + [t.succ(x) for x in moved[:-1]] == moved
        np.testing.assert_array_equal(t.t[t.pos], np.arange(n))


def _same_cycle(x: np.ndarray, y: np.ndarray) -> bool:
    """Equal as cycles up to rotation and direction."""
    k = int(np.flatnonzero(y == x[0])[0])
    r = np.roll(y, -k)
    return np.array_equal(x, r) or np.array_equal(x, np.roll(r[::-1], 1))
