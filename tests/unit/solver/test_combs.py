"""Combs beyond blossoms and the tightening of pool combs: what they find is violated, still a
comb, and holds for the optimal tour."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tsp_celery.problem import load_problem
from tsp_celery.solver.branch import branch_and_cut
from tsp_celery.solver.combs import _blocks, comb_cuts
from tsp_celery.solver.cuts import Cut, shrink_ones
from tsp_celery.solver.separation import separate
from tsp_celery.solver.tighten import is_comb, support_graph, tighten, tightened_cuts

pytestmark = pytest.mark.timeout(60)

KROA100_OPTIMUM = 21282


def _is_comb(cut: Cut) -> bool:
    """Odd teeth (at least 3), pairwise disjoint, each meeting the handle and its outside."""
    handle, *teeth = (set(s.tolist()) for s in cut.sets)
    disjoint = len(set().union(*teeth)) == sum(len(t) for t in teeth)
    return (
        len(teeth) >= 3
        and len(teeth) % 2 == 1
        and cut.rhs == 3 * len(teeth) + 1
        and disjoint
        and all(t & handle and t - handle for t in teeth)
    )


def _blossom_point() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # triangles {0, 1, 2} and {3, 4, 5} at 1/2, joined by 1-edges 0-3, 1-4, 2-5
    u = np.array([0, 1, 0, 3, 4, 3, 0, 1, 2])
    v = np.array([1, 2, 2, 4, 5, 5, 3, 4, 5])
    return u, v, np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 1, 1, 1])


def test_shrinking_makes_each_one_path_a_node_and_sums_parallel_edges():
    u = np.array([0, 1, 2, 0, 3, 1, 3])
    v = np.array([1, 2, 4, 3, 4, 3, 2])
    x = np.array([1, 0.5, 0.5, 0.5, 1, 0.5, 0.0])
    k, label, a, b, y = shrink_ones(5, u, v, x)
    assert k == 3
    assert label[0] == label[1] and label[3] == label[4]
    pair = {(int(p), int(q)): w for p, q, w in zip(a, b, y, strict=True)}
    paths = tuple(sorted((int(label[0]), int(label[3]))))
    assert pair[paths] == pytest.approx(1.0)  # 0-3 and 1-3, both 1/2


def _path_blossom_point() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # the blossom point with the tooth 2-5 stretched to the 1-path 2-6-5
    u, v, x = _blossom_point()
    return np.append(u[:-1], [2, 5]), np.append(v[:-1], [6, 6]), np.append(x[:-1], [1, 1])


def test_blocks_are_the_two_connected_pieces_and_bridges():
    # triangles 0-1-2 and 2-3-4 share the cut node 2; the bridge 4-5 is a block of its own
    a = np.array([0, 1, 0, 2, 3, 2, 4])
    b = np.array([1, 2, 2, 3, 4, 4, 5])
    blocks = {tuple(sorted(blk)) for blk in _blocks(6, a, b)}
    assert blocks == {(0, 1, 2), (2, 3, 4), (4, 5)}


def test_tightening_completes_a_tooth_and_keeps_a_comb():
    u, v, x = _path_blossom_point()
    loose = Cut((np.array([0, 1, 2]), np.array([0, 3]), np.array([1, 4]), np.array([2, 5])), 10)
    assert loose.slack(7, u, v, x) == pytest.approx(1.0)
    # dropping 5 from the last tooth would gain as much but leave it no node outside the handle
    tight = tighten(loose, support_graph(7, u, v, x))
    assert tight is not None and _is_comb(tight)
    assert tight.sets[3].tolist() == [2, 5, 6]
    assert tight.slack(7, u, v, x) == pytest.approx(-1.0)


def test_a_tight_comb_is_left_alone():
    u, v, x = _blossom_point()
    comb = Cut((np.array([0, 1, 2]), np.array([0, 3]), np.array([1, 4]), np.array([2, 5])), 10)
    assert tighten(comb, support_graph(6, u, v, x)) is None


def test_blossoms_whose_teeth_share_a_node_are_not_combs_to_tighten():
    shared = Cut((np.array([0, 1, 2]), np.array([0, 3]), np.array([0, 4]), np.array([2, 5])), 10)
    assert not is_comb(shared)
    u, v, x = _blossom_point()
    assert tightened_cuts([shared], 6, u, v, x) == []


def test_root_combs_are_violated_combs_that_hold_for_the_optimal_tour(data_dir, root_lp):
    problem = load_problem(data_dir / "kroA100.tsp")
    lp = root_lp(problem)
    found: list[Cut] = []
    for _ in range(100):
        sol = lp.solve({})
        _, keys, rc = lp.exact_bound(sol, {})
        if lp.price(keys, rc):
            continue
        combs = comb_cuts(lp.n, lp.u, lp.v, sol.x) + tightened_cuts(
            lp.cuts, lp.n, lp.u, lp.v, sol.x
        )
        assert all(c.slack(lp.n, lp.u, lp.v, sol.x) < 0 for c in combs)
        found += combs
        if not lp.add_cuts(separate(lp.n, lp.u, lp.v, sol.x, root=True, pool=lp.cuts) + combs):
            break
    assert found and all(_is_comb(c) for c in found)
    assert any(len(t) > 2 for c in found for t in c.sets[1:]), "no tooth beyond an edge"
    tour = branch_and_cut(problem, time.monotonic() + 60).tour
    assert problem.tour_length(tour) == KROA100_OPTIMUM
    a, b = tour, np.roll(tour, -1)
    pool = lp.pool
    x = np.isin(pool.keys(), np.minimum(a, b) * lp.n + np.maximum(a, b)).astype(float)
    assert all(c.slack(lp.n, pool.u, pool.v, x) >= 0 for c in found)
