"""Branch-and-cut certificates: they prove TSPLIB optima, never exceed them, and find the tour."""

from __future__ import annotations

import itertools
import time
from types import SimpleNamespace

import numpy as np
import pytest

from tsp_celery.problem import known_optimum, load_problem
from tsp_celery.solver import branch
from tsp_celery.solver.branch import _branch, _cut_loop, _pool, _Search, branch_and_cut
from tsp_celery.solver.certify import METHOD_BRANCH_AND_CUT, certified_bound
from tsp_celery.solver.exact import held_karp
from tsp_celery.solver.lp_bound import EdgeLP, ceil_div
from tsp_celery.solver.separation import separate

pytestmark = pytest.mark.timeout(120)

SMALL = ["burma14", "ulysses22", "att48", "berlin52", "eil101", "kroA100"]


@pytest.mark.parametrize("name", SMALL)
def test_branch_and_cut_proves_the_optimum_and_returns_that_tour(data_dir, name):
    problem = load_problem(data_dir / f"{name}.tsp")
    optimum = known_optimum(name, problem.n)
    # the identity order is a poor incumbent: the optimal tour has to come from the search
    cert = branch_and_cut(problem, time.monotonic() + 90, tour=np.arange(problem.n))
    assert cert.proven
    assert cert.lower == cert.upper == optimum
    assert sorted(cert.tour.tolist()) == list(range(problem.n))
    assert problem.tour_length(cert.tour) == optimum


@pytest.mark.parametrize("seed", range(4))
def test_branch_and_cut_matches_dynamic_programming(make_problem, seed):
    problem = make_problem(11, seed=seed)
    exact = problem.tour_length(held_karp(problem.submatrix()))
    cert = branch_and_cut(problem, time.monotonic() + 60)       # no incumbent at all
    assert cert.lower == cert.upper == exact
    assert problem.tour_length(cert.tour) == exact


def _with_optimum(data_dir):
    for path in sorted(data_dir.glob("*.tsp")):
        problem = load_problem(path)
        optimum = known_optimum(path.stem, problem.n)
        if optimum is not None:
            yield path.stem, problem, optimum


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_bound_never_exceeds_the_optimum_on_any_test_instance(data_dir):
    checked = 0
    for name, problem, optimum in _with_optimum(data_dir):
        lb = certified_bound(problem, 3.0)
        assert lb.proven, name
        assert lb.value <= optimum, f"{name}: bound {lb.value} above the optimum {optimum}"
        checked += 1
    assert checked >= 12


def test_a_target_above_the_optimum_still_bounds_below_it(data_dir):
    problem = load_problem(data_dir / "berlin52.tsp")
    cert = branch_and_cut(problem, time.monotonic() + 60, upper=7600)
    assert cert.lower == cert.upper == 7542


def test_a_target_below_the_optimum_is_proven_unreachable(data_dir):
    # no tour is shorter than 7500, so 7500 is a valid bound (though not the optimum)
    problem = load_problem(data_dir / "berlin52.tsp")
    cert = branch_and_cut(problem, time.monotonic() + 60, upper=7500)
    assert cert.lower == 7500 and cert.tour is None


def test_certified_bound_proves_kroa100_where_held_karp_stops_short(data_dir):
    problem = load_problem(data_dir / "kroA100.tsp")
    lb = certified_bound(problem, 60.0)
    assert lb.proven and lb.value == 21282
    assert lb.method == METHOD_BRANCH_AND_CUT


def test_out_of_time_gives_a_valid_partial_bound(data_dir):
    problem = load_problem(data_dir / "pcb442.tsp")
    cert = branch_and_cut(problem, time.monotonic() + 1.0, upper=60_000)
    assert 0 <= cert.lower <= 50778


def test_probing_a_branch_leaves_the_lp_as_it_was(data_dir, root_lp):
    lp = root_lp(load_problem(data_dir / "kroA100.tsp"))
    for _ in range(10):
        sol = lp.solve({})
        lp.add_cuts(separate(lp.n, lp.u, lp.v, sol.x))
    sol = lp.solve({})
    fractional = np.flatnonzero(np.minimum(sol.x, 1 - sol.x) > 0.1)[:4]
    assert len(fractional)
    for column in fractional:
        for side in (0.0, 1.0):
            assert lp.probe(int(column), side, 100) >= sol.value - 1e-6
    again = lp.solve({})
    assert again.value == pytest.approx(sol.value)
    assert lp.highs.getInfo().simplex_iteration_count == 0      # the basis came back too


def test_strong_branching_takes_the_edge_whose_children_rise_most():
    # three edges at 1/2, the longest first; probing says the middle one lifts both children
    rise = {0: (5.0, 0.0), 1: (2.0, 3.0), 2: (9.0, 0.1)}
    lp = SimpleNamespace(cost=np.array([30, 20, 10, 40, 50]), keys=np.array([7, 8, 9, 10, 11]),
                         probe=lambda column, side, _iterations: 100 + rise[column][int(side)],
                         cuts=[])
    x = np.array([0.5, 0.5, 0.5, 1.0, 0.0])
    assert _branch(lp, x, 100.0) == ("edge", 8)
    assert _branch(lp, np.array([1.0, 1.0, 0.0, 1.0, 0.0]), 100.0) is None


def test_an_lp_widened_to_every_pair_to_become_feasible_narrows_again(data_dir):
    # over the tour's edges alone, fixing one of them to 0 leaves no 2-factor: the LP takes in
    # all 4,950 pairs once, then keeps only the edges it uses (or had), so solves stay small
    problem = load_problem(data_dir / "kroA100.tsp")
    tour = np.arange(problem.n)
    pool = _pool(problem)
    keys = np.sort(np.minimum(tour, np.roll(tour, -1)) * problem.n
                   + np.maximum(tour, np.roll(tour, -1)))
    lp = EdgeLP(problem.n, pool, keys)
    search = _Search(problem, lp, 10**9, None, time.monotonic() + 30)
    node = _cut_loop(search, {int(keys[0]): 0})
    assert node is not None
    total, sol = node
    assert 0 < ceil_div(total) <= known_optimum("kroA100", problem.n)
    assert len(lp.keys) < len(pool.u) // 5
    assert sol.x[lp._columns(keys[:1])[0]] == 0


def test_a_parity_side_bounds_only_the_tours_on_that_side(make_problem):
    # every tour of 8 nodes, split by how often it crosses S: the exact bound of the LP with
    # x(delta(S)) = 2 (a capped row, whose dual may be negative), or >= 4, stays at or below
    # the shortest tour of that side
    problem = make_problem(8, seed=3)
    inside = np.zeros(8, dtype=bool)
    inside[[0, 1, 2]] = True
    shortest = {2: np.inf, 4: np.inf}
    for rest in itertools.permutations(range(1, 8)):
        tour = np.array((0, *rest))
        crossings = int(np.sum(inside[tour] != inside[np.roll(tour, -1)]))
        side = 2 if crossings == 2 else 4
        shortest[side] = min(shortest[side], problem.tour_length(tour))
    pool = _pool(problem)
    lp = EdgeLP(problem.n, pool, pool.keys())
    for _ in range(5):
        lp.add_cuts(separate(lp.n, lp.u, lp.v, lp.solve({}).x))
    row = lp.subtour_row(np.flatnonzero(inside))
    for side in (2, 4):
        sol = lp.solve({}, {row: side})
        assert ceil_div(lp.exact_bound(sol, {})[0]) <= shortest[side]
        assert sol.value <= shortest[side] + 1e-6
    assert lp.solve({}).value <= min(shortest.values()) + 1e-6   # the row is back to >= 2


@pytest.mark.parametrize("name", ["eil101", "kroA100"])
def test_branching_on_sets_alone_where_it_can_still_proves_the_optimum(data_dir, name,
                                                                       monkeypatch):
    # every branching that has a set near x(delta(S)) = 3 takes it: the tree's two sides
    # cover every tour, so the optimum is still reached and never exceeded
    taken = []

    def sets_first(lp, x, value):
        nodes = branch._odd_sets(lp, x)
        if nodes and np.minimum(x, 1 - x).max() > 1e-6:
            taken.append(nodes[0])
            return "set", lp.subtour_row(nodes[0])
        return original(lp, x, value)

    original = branch._branch
    monkeypatch.setattr(branch, "_branch", sets_first)
    problem = load_problem(data_dir / f"{name}.tsp")
    cert = branch_and_cut(problem, time.monotonic() + 90, tour=np.arange(problem.n))
    assert cert.lower == cert.upper == known_optimum(name, problem.n)
    assert problem.tour_length(cert.tour) == cert.upper
    assert taken
