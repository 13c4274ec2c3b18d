"""Cuts and the LP's exact bound: every cut holds for the optimal tour, violated ones are found,
and the bound from the LP's duals stays below the optimum."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tsp_celery.problem import load_problem
from tsp_celery.solver.branch import _first_edges, _pool, branch_and_cut
from tsp_celery.solver.cuts import (
    Cut,
    blossom_cuts,
    component_cuts,
    exact_blossom_cuts,
    min_cut_cuts,
)
from tsp_celery.solver.lp_bound import EdgeLP, ceil_div
from tsp_celery.solver.separation import separate

pytestmark = pytest.mark.timeout(120)


def _tour_x(lp: EdgeLP, tour: np.ndarray) -> np.ndarray:
    """The tour as a 0/1 vector over the pool's edges."""
    a, b = tour, np.roll(tour, -1)
    keys = np.minimum(a, b) * lp.n + np.maximum(a, b)
    return np.isin(lp.pool.keys(), keys).astype(float)


@pytest.mark.parametrize(("name", "optimum"), [("kroA100", 21282), ("att48", 10628)])
def test_root_cuts_hold_for_the_optimal_tour_and_the_bound_stays_below(data_dir, name, optimum):
    problem = load_problem(data_dir / f"{name}.tsp")
    best = branch_and_cut(problem, time.monotonic() + 90)
    assert problem.tour_length(best.tour) == optimum
    pool = _pool(problem)
    lp = EdgeLP(problem.n, pool, _first_edges(problem, pool, None))
    found: list[Cut] = []
    for _ in range(40):
        sol = lp.solve({})
        total, keys, rc = lp.exact_bound(sol, {})
        assert ceil_div(total) <= optimum
        if lp.price(keys, rc):
            continue
        cuts = separate(lp.n, lp.u, lp.v, sol.x, root=True)
        if not lp.add_cuts(cuts):
            break
        found += cuts
    assert any(c.rhs > 2 for c in found), "no blossom found"
    x = _tour_x(lp, best.tour)
    for cut in found:
        assert cut.slack(lp.n, pool.u, pool.v, x) >= 0, cut


def _two_triangles() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    u = np.array([0, 1, 0, 3, 4, 3, 2])
    v = np.array([1, 2, 2, 4, 5, 5, 3])
    return u, v, np.array([1, 1, 1, 1, 1, 1, 0.0])


def test_components_give_one_subtour_cut_each():
    u, v, x = _two_triangles()
    cuts = component_cuts(6, u, v, x)
    assert sorted(tuple(c.sets[0].tolist()) for c in cuts) == [(0, 1, 2), (3, 4, 5)]
    assert all(c.slack(6, u, v, x) < 0 for c in cuts)


def test_min_cut_finds_a_weakly_joined_pair_of_triangles():
    u, v, x = _two_triangles()
    x = np.array([1, 1, 0.9, 1, 1, 0.9, 0.2])        # one support component, cut value 0.2
    u = np.append(u, 5)
    v = np.append(v, 0)
    x = np.append(x, 0.0)
    cuts = min_cut_cuts(6, u, v, x)
    sides = {tuple(c.sets[0].tolist()) for c in cuts}
    assert sides and sides <= {(0, 1, 2), (3, 4, 5)}
    assert all(c.slack(6, u, v, x) == pytest.approx(-1.8) for c in cuts)


def test_a_blossom_is_found_where_subtours_hold():
    # handle {0, 1, 2} (a triangle at 1/2), teeth 0-3, 1-4, 2-5 at 1, outer triangle at 1/2:
    # every subtour cut holds, the blossom x(delta(H)) + 3 * 2 >= 10 does not (3 + 6 = 9)
    u = np.array([0, 1, 0, 3, 4, 3, 0, 1, 2])
    v = np.array([1, 2, 2, 4, 5, 5, 3, 4, 5])
    x = np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 1, 1, 1])
    assert min_cut_cuts(6, u, v, x) == []
    for cuts in (blossom_cuts(6, u, v, x), exact_blossom_cuts(6, u, v, x)):
        assert cuts and cuts[0].rhs == 10
        assert cuts[0].slack(6, u, v, x) == pytest.approx(-1.0)


def test_a_tour_needs_no_cut():
    n = 8
    tour = np.arange(n)
    u, v = tour, np.roll(tour, -1)
    assert separate(n, np.minimum(u, v), np.maximum(u, v), np.ones(n)) == []
