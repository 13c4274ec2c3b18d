"""The LP bound over the implicit complete graph (large instances): its pricing filter misses no
edge that could lower the bound, so its exact bound equals the one over all listed pairs."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tsp_celery.problem import Problem, known_optimum, load_problem
from tsp_celery.solver import branch
from tsp_celery.solver.branch import _first_edges, _pool, branch_and_cut
from tsp_celery.solver.lp_bound import SCALE, CompletePool, EdgeLP
from tsp_celery.solver.separation import separate

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("kind", ["EUC_2D", "CEIL_2D", "ATT"])     # KD-tree, KD-tree, row scan
def test_candidates_hold_every_edge_shorter_than_its_ends_reach(make_problem, kind):
    problem = make_problem(200, seed=3, kind=kind, span=1000)
    rng = np.random.default_rng(0)
    reach = rng.integers(-50 * SCALE, 120 * SCALE, problem.n)
    u, v, cost = CompletePool(problem).candidates(reach)
    assert np.array_equal(cost, problem.distances(u, v))
    a, b = np.triu_indices(problem.n, 1)
    short = problem.distances(a, b) * SCALE < reach[a] + reach[b]
    assert set((a[short] * problem.n + b[short]).tolist()) <= set((u * problem.n + v).tolist())


def test_complete_pool_gives_the_listed_pools_exact_bound(data_dir):
    problem = load_problem(data_dir / "kroA100.tsp")
    listed = _pool(problem)
    lp = EdgeLP(problem.n, listed, _first_edges(problem, listed, None))
    for _ in range(6):
        sol = lp.solve({})
        lp.pool = listed
        total, keys, rc = lp.exact_bound(sol, {})
        lp.pool = CompletePool(problem)
        total_c, keys_c, rc_c = lp.exact_bound(sol, {})
        assert total_c == total
        assert dict(zip(keys_c.tolist(), rc_c.tolist(), strict=True)) == dict(
            zip(keys.tolist(), rc.tolist(), strict=True))
        lp.pool = listed
        if not (lp.price(keys, rc) or lp.add_cuts(separate(lp.n, lp.u, lp.v, sol.x))):
            break


def test_unlisted_branch_and_cut_bound_stays_below_the_optimum(data_dir, monkeypatch):
    monkeypatch.setattr(branch, "LISTED_MAX_N", 0)          # kroA100 as a large instance would
    problem = load_problem(data_dir / "kroA100.tsp")
    optimum = known_optimum("kroA100", problem.n)
    cert = branch_and_cut(problem, time.monotonic() + 5, tour=np.arange(problem.n))
    assert 0.99 * optimum <= cert.lower <= optimum
    if cert.tour is not None:
        assert problem.tour_length(cert.tour) == cert.upper


def test_explicit_matrix_scans_rows(make_problem):
    problem = Problem.from_matrix(make_problem(40, seed=2).submatrix())
    pool = CompletePool(problem)
    assert pool.tree is None
    u, _, _ = pool.candidates(np.full(problem.n, 10**9 * SCALE))
    assert len(u) == problem.n * (problem.n - 1) // 2
