"""Engine matrices: exact when they fit in uint16, scaled into 0..65535 when they do not."""

from __future__ import annotations

import numpy as np
import pytest

from tsp_celery.problem import Problem
from tsp_celery.solver.matrix import (
    UINT16_MAX,
    compact_matrix,
    drop_whole_matrix,
    longest_edge,
    to_uint16,
    whole_matrix,
    zeroed_uint16,
)

TYPES = ["EUC_2D", "CEIL_2D", "ATT", "MAN_2D", "MAX_2D", "EUC_FLOAT"]


@pytest.mark.parametrize("kind", [*TYPES, "GEO"])
def test_longest_edge_is_the_true_maximum(kind, make_problem):
    span = 90 if kind == "GEO" else 50_000
    p = make_problem(400, seed=2, kind=kind, span=span)
    assert longest_edge(p, np.arange(p.n)) == pytest.approx(p.submatrix().max()) or (
        kind == "GEO" and longest_edge(p, np.arange(p.n)) >= p.submatrix().max()
    )


@pytest.mark.parametrize("kind", ["EUC_2D", "CEIL_2D", "ATT", "MAN_2D", "MAX_2D", "GEO"])
def test_unscaled_matrix_equals_exact_distances(kind, make_problem):
    p = make_problem(300, seed=3, kind=kind, span=90 if kind == "GEO" else 20_000)
    nodes = np.random.default_rng(0).permutation(p.n)[:200]
    m, scale = compact_matrix(p, nodes)
    assert scale == 1.0
    assert m.dtype == np.uint16
    np.testing.assert_array_equal(m, p.submatrix(nodes))


def test_explicit_matrix_is_taken_as_is(burma14):
    explicit = Problem.from_matrix(burma14.submatrix())
    m, scale = compact_matrix(explicit)
    assert scale == 1.0
    np.testing.assert_array_equal(m, explicit.matrix)


@pytest.mark.parametrize("kind", ["EUC_2D", "CEIL_2D", "EUC_FLOAT"])
def test_large_distances_are_scaled_into_range(kind, make_problem):
    p = make_problem(250, seed=4, kind=kind, span=2_000_000)
    exact = p.submatrix()
    m, scale = compact_matrix(p)
    assert scale == pytest.approx(UINT16_MAX / exact.max())
    assert m.max() <= UINT16_MAX and m.max() >= UINT16_MAX - 1
    # scaled and rounded: within one unit (plus TSPLIB's own rounding) of scale * exact
    assert np.abs(m - exact * scale).max() <= 1.0 + scale


def test_large_matrices_in_huge_pages_hold_the_exact_distances(make_problem):
    # 4,200 nodes plus padding: past the size from which the buffer is an mmap in huge pages
    p = make_problem(4_200, seed=7, kind="CEIL_2D", span=20_000)
    m, scale = compact_matrix(p, pad=1)
    assert scale == 1.0 and m.shape == (4_201, 4_201) and m.flags.writeable
    rows = np.random.default_rng(1).choice(p.n, 40, replace=False)
    np.testing.assert_array_equal(m[rows, : p.n], p.distances(rows[:, None], np.arange(p.n)))
    assert not m[p.n].any() and not m[:, p.n].any()


@pytest.mark.parametrize("shape", [(3, 5), (4_500, 4_500)])
def test_zeroed_uint16_is_a_writable_zero_array(shape):
    a = zeroed_uint16(*shape)
    assert a.shape == shape and a.dtype == np.uint16 and not a.any()
    a[-1, -1] = UINT16_MAX
    assert a.sum() == UINT16_MAX


def test_pad_leaves_room_for_dummies(make_problem):
    p = make_problem(50, seed=5)
    m, _ = compact_matrix(p, pad=2)
    assert m.shape == (52, 52)
    assert not m[50:].any() and not m[:, 50:].any()


def test_to_uint16_scales_caller_matrices(make_problem):
    big = make_problem(60, seed=6, span=5_000_000).submatrix()
    assert big.max() > UINT16_MAX
    m, scale = to_uint16(big)
    assert m.dtype == np.uint16 and m.max() == UINT16_MAX
    assert scale == pytest.approx(UINT16_MAX / big.max())
    small = make_problem(60, seed=6, span=1000).submatrix()
    m, scale = to_uint16(small)
    assert scale == 1.0
    np.testing.assert_array_equal(m, small)


def test_to_uint16_rejects_negative_distances():
    with pytest.raises(ValueError, match="non-negative"):
        to_uint16(np.array([[0, -1], [-1, 0]]))


def test_threads_build_the_same_matrix(make_problem):
    p = make_problem(900, seed=4, kind="CEIL_2D", span=200_000)  # scaled, several row blocks
    serial, scale = compact_matrix(p)
    threaded, threaded_scale = compact_matrix(p, threads=2)
    assert threaded_scale == scale
    np.testing.assert_array_equal(threaded, serial)


def test_the_whole_matrix_is_built_once_per_problem(make_problem, monkeypatch):
    import tsp_celery.solver.matrix as matrix

    builds = []
    build = matrix.compact_matrix
    monkeypatch.setattr(matrix, "compact_matrix",
                        lambda problem, **kw: builds.append(problem) or build(problem, **kw))
    a, b = make_problem(50, seed=1), make_problem(60, seed=2)
    try:
        first = whole_matrix(a)
        assert whole_matrix(a, threads=2) is first
        np.testing.assert_array_equal(first, compact_matrix(a)[0])
        assert whole_matrix(b).shape == (60, 60)  # another problem: its own matrix
        drop_whole_matrix()
        whole_matrix(b)
    finally:
        drop_whole_matrix()
    assert builds == [a, b, b]
