"""Decomposition mechanics: disjoint pieces covering the tour, moving cut points."""

from __future__ import annotations

import numpy as np
import pytest

from tsp_celery.solver.decompose import region_nodes, round_offset, segments


@pytest.mark.parametrize(("n", "size", "offset"), [(10, 3, 0), (1000, 300, 7), (33810, 1000, 999),
                                                  (5, 5, 2), (5, 100, 4)])
def test_segments_cover_every_position_once(n, size, offset):
    segs = segments(n, size, offset)
    covered = np.concatenate([(s + np.arange(k)) % n for s, k in segs])
    assert sorted(covered.tolist()) == list(range(n))
    sizes = [k for _, k in segs]
    assert max(sizes) <= size and max(sizes) - min(sizes) <= 1
    assert segs[0][0] == offset % n


def test_offsets_move_the_cut_points():
    cuts = [{s for s, _ in segments(3000, 500, round_offset(r, 500))} for r in range(3)]
    assert cuts[0].isdisjoint(cuts[1]) and cuts[1].isdisjoint(cuts[2])


def test_rejects_bad_sizes():
    with pytest.raises(ValueError):
        segments(10, 1)


def test_regions_partition_the_nodes_and_are_compact(make_problem):
    p = make_problem(4000, seed=21)
    tour = np.random.default_rng(0).permutation(p.n)
    parts = [region_nodes(p, tour, s, k) for s, k in segments(p.n, 500, 123)]
    assert sorted(np.concatenate(parts).tolist()) == list(range(p.n))
    spread = [np.ptp(p.coords[part], axis=0).prod() for part in parts]
    assert np.mean(spread) < 0.5 * np.ptp(p.coords, axis=0).prod()


def test_regions_without_coordinates_follow_the_tour(burma14):
    from tsp_celery.problem import Problem

    explicit = Problem.from_matrix(burma14.submatrix())
    tour = np.arange(14)[::-1]
    np.testing.assert_array_equal(region_nodes(explicit, tour, 2, 4), tour[2:6])
