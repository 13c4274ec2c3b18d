"""Matrix budget: which n gets a full matrix."""

from __future__ import annotations

import pytest

from tsp_celery.solver.budget import CELL_BYTES, fits_matrix_budget, matrix_bytes, max_matrix_nodes


@pytest.mark.parametrize("budget_mb", [64, 256, 1024, 4096])
def test_largest_fitting_n_is_the_boundary(budget_mb):
    budget = budget_mb * 1024 * 1024
    n = max_matrix_nodes(budget)
    assert n > 0
    assert fits_matrix_budget(n, budget)
    assert not fits_matrix_budget(n + 1, budget)


def test_default_budget_takes_rl11849_but_not_pla33810():
    budget = 1024 * 1024 * 1024
    assert fits_matrix_budget(11849, budget)
    assert not fits_matrix_budget(33810, budget)


def test_beyond_one_block_cost_grows_with_the_square():
    assert matrix_bytes(4000) - matrix_bytes(3000) == CELL_BYTES * (4000**2 - 3000**2)


def test_tiny_budget_fits_nothing():
    assert max_matrix_nodes(10) == 0
    assert not fits_matrix_budget(3, 10)
    with pytest.raises(ValueError):
        fits_matrix_budget(-1, 1000)
