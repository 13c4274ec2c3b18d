"""Small instances for the solver tests, built in memory (seeded) or read from tests/data."""

from __future__ import annotations

import numpy as np
import pytest

from tsp_celery.problem import Problem, load_problem
from tsp_celery.solver.branch import _first_edges, _pool
from tsp_celery.solver.lp_bound import EdgeLP


def random_problem(n: int, seed: int = 0, kind: str = "EUC_2D", span: float = 10_000) -> Problem:
    """n random points with integer coordinates in [0, span)."""
    rng = np.random.default_rng(seed)
    return Problem.from_coords(rng.integers(0, int(span), (n, 2)), kind)


@pytest.fixture
def make_problem():
    """The ``random_problem`` factory, for tests that need several instances."""
    return random_problem


@pytest.fixture
def burma14(data_dir) -> Problem:
    return load_problem(data_dir / "burma14.tsp")


@pytest.fixture
def uniform300() -> Problem:
    return random_problem(300, seed=1)


@pytest.fixture
def root_lp():
    """A factory: a problem's LP over its first working edges (no tour), before any cut."""
    def make(problem: Problem) -> EdgeLP:
        pool = _pool(problem)
        return EdgeLP(problem.n, pool, _first_edges(problem, pool, None))
    return make
