"""The first tour of a job beyond the matrix budget: whether one is needed, and its partition."""

from __future__ import annotations

from dataclasses import dataclass

from tsp_celery.plan.planner import EXACT_MAX_N, initial_partition_s
from tsp_celery.solver import fits_matrix_budget, part_count, partition_part_nodes


def needs_first_tour(n: int, matrix_budget_bytes: int) -> bool:
    """Decomposition rounds improve a tour: beyond the matrix budget one is built first."""
    return n > EXACT_MAX_N and not fits_matrix_budget(n, matrix_budget_bytes)


@dataclass(frozen=True)
class FirstTourPlan:
    """Seconds for the partition, the largest part, and how many parts (0, 0: one greedy tour
    when there is no time for a partition)."""

    partition_s: float
    max_part_nodes: int
    parts: int


def plan_first_tour(n: int, matrix_budget_bytes: int, remaining_s: float) -> FirstTourPlan:
    partition_s = initial_partition_s(remaining_s)
    part_nodes = partition_part_nodes(n, matrix_budget_bytes, partition_s)
    return FirstTourPlan(partition_s, part_nodes, part_count(n, part_nodes) if part_nodes else 0)
