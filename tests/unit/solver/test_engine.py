"""Contract tests: the same suite over every registered engine and a trivial test engine."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tsp_celery.solver.engine import Engine, engine_names, get_engine, register_engine


class IdentityEngine:
    """The trivial engine of the contract tests: the nodes in index order."""

    name = "test-identity"
    proves_optimality = False

    def solve(self, matrix: np.ndarray, budget_s: float, seed: int) -> np.ndarray:
        return np.arange(matrix.shape[0])


register_engine(IdentityEngine())
ENGINES = engine_names()


def matrix(n: int, seed: int = 0, scale: float = 1000.0) -> np.ndarray:
    xy = np.random.default_rng(seed).random((n, 2)) * scale
    return np.rint(np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))).astype(np.int64)


def test_builtin_engines_are_registered():
    assert {"exact", "fast-tsp", "test-identity"} <= set(ENGINES)


@pytest.mark.parametrize("name", ENGINES)
@pytest.mark.parametrize("n", [1, 2, 3, 5, 12, 16])
def test_returns_a_permutation(name, n):
    tour = np.asarray(get_engine(name).solve(matrix(n), 0.2, seed=1))
    assert sorted(tour.tolist()) == list(range(n))


@pytest.mark.parametrize("name", ENGINES)
def test_accepts_float_and_uint16_matrices(name):
    m = matrix(10)
    for variant in (m.astype(np.float64) + 0.25, m.astype(np.uint16)):
        tour = get_engine(name).solve(variant, 0.2, seed=0)
        assert sorted(np.asarray(tour).tolist()) == list(range(10))


@pytest.mark.parametrize("name", ENGINES)
def test_stays_within_budget(name):
    m = matrix(16)
    started = time.monotonic()
    get_engine(name).solve(m, 0.3, seed=0)
    assert time.monotonic() - started < 0.3 + 2.0  # generous: the machine is shared


@pytest.mark.parametrize("name", [n for n in ENGINES if get_engine(n).proves_optimality])
def test_optimal_engines_agree_with_fast_tsp_exact_range(name):
    m = matrix(12, seed=3)
    mine = get_engine(name).solve(m, 1.0, seed=0)
    fast = get_engine("fast-tsp").solve(m, 1.0, seed=0)  # exact for n <= 20
    length = lambda t: m[t, np.roll(t, -1)].sum()  # noqa: E731
    assert length(np.asarray(mine)) == length(np.asarray(fast))


def test_unknown_engine_names_the_known_ones():
    with pytest.raises(ValueError, match="fast-tsp"):
        get_engine("lkh-9")


def test_register_rejects_non_engines():
    with pytest.raises(TypeError):
        register_engine(object())  # type: ignore[arg-type]
    assert isinstance(IdentityEngine(), Engine)
