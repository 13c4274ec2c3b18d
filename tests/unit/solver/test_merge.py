"""Partition crossover: children are tours, never longer than the better parent, and take the
better parent's side in every region where the parents differ independently."""

from __future__ import annotations

import numpy as np
import pytest

from tsp_celery.errors import TourError
from tsp_celery.problem import Problem, load_problem
from tsp_celery.solver import crossover as merge_module
from tsp_celery.solver.crossover import merge_tours, partition_crossover, same_cycle

pytestmark = pytest.mark.timeout(60)


def circle(n: int = 40) -> Problem:
    """Points on a circle: the tour 0, 1, ..., n-1 is the unique optimum."""
    angle = 2 * np.pi * np.arange(n) / n
    return Problem.from_coords(np.column_stack([np.cos(angle), np.sin(angle)]) * 10_000,
                               "EUC_2D")


def reversed_at(tour: np.ndarray, i: int, j: int) -> np.ndarray:
    """The tour with positions i..j (inclusive) reversed: a 2-opt move."""
    out = tour.copy()
    out[i : j + 1] = out[i : j + 1][::-1]
    return out


def swapped_at(tour: np.ndarray, i: int) -> np.ndarray:
    """The tour with the nodes at positions i and i+1 exchanged."""
    out = tour.copy()
    out[i], out[i + 1] = out[i + 1], out[i]
    return out


def assert_child(problem: Problem, child: np.ndarray, *parents: np.ndarray) -> None:
    assert sorted(child.tolist()) == list(range(problem.n))
    assert problem.tour_length(child) <= min(problem.tour_length(p) for p in parents)


@pytest.mark.parametrize("spoil", [lambda t, i: reversed_at(t, i, i + 4), swapped_at])
def test_child_takes_both_independent_improvements(spoil):
    # a is spoilt in one region, b in another far away: each parent is better in one region,
    # and the child, better in both, is the optimum and strictly shorter than either parent
    problem = circle()
    optimum = np.arange(problem.n)
    a, b = spoil(optimum, 5), spoil(optimum, 25)
    child = partition_crossover(problem, a, b)
    assert_child(problem, child, a, b)
    assert problem.tour_length(child) == problem.tour_length(optimum)
    assert problem.tour_length(child) < min(problem.tour_length(a), problem.tour_length(b))


def test_child_keeps_the_better_side_where_both_differ():
    # both parents are spoilt in the same region, a more than b, and a alone elsewhere
    problem = circle()
    optimum = np.arange(problem.n)
    a = reversed_at(reversed_at(optimum, 5, 12), 25, 29)
    b = reversed_at(optimum, 5, 12)
    a = swapped_at(a, 8)                        # a is worse than b around 5..12 as well
    child = partition_crossover(problem, a, b)
    assert_child(problem, child, a, b)
    assert problem.tour_length(child) == problem.tour_length(b)


def test_identical_rotated_and_reversed_parents():
    problem = circle(30)
    a = np.random.default_rng(0).permutation(30)
    for b in (a, np.roll(a, 7), a[::-1]):
        child = partition_crossover(problem, a, b)
        assert_child(problem, child, a, b)
        assert problem.tour_length(child) == problem.tour_length(a)


def perturbed(tour: np.ndarray, moves: int, rng: np.random.Generator) -> np.ndarray:
    """The tour after random short segment reversals (a local optimum's typical neighbour)."""
    out = tour.copy()
    for _ in range(moves):
        i = int(rng.integers(0, len(out) - 12))
        out = reversed_at(out, i, i + int(rng.integers(1, 10)))
    return out


def base_tour(problem: Problem) -> np.ndarray:
    """A reasonable tour: the nodes in boustrophedon order over a coarse grid."""
    xy = problem.plot_coords if problem.plot_coords is not None else np.random.default_rng(
        0).random((problem.n, 2))
    span = np.ptp(xy, axis=0) + 1e-9
    cols = np.floor((xy[:, 0] - xy[:, 0].min()) / span[0] * np.sqrt(problem.n / 2)).astype(int)
    y = np.where(cols % 2 == 0, xy[:, 1], -xy[:, 1])
    return np.lexsort((y, cols))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("name", ["burma14", "gr17", "att48", "kroA100", "ch150", "pcb442"])
def test_property_children_are_tours_never_longer(data_dir, name, seed):
    problem = load_problem(data_dir / f"{name}.tsp")
    rng = np.random.default_rng(seed)
    base = base_tour(problem)
    for a, b in [(perturbed(base, problem.n // 5, rng), perturbed(base, problem.n // 5, rng)),
                 (rng.permutation(problem.n), rng.permutation(problem.n)),
                 (perturbed(base, 3, rng), rng.permutation(problem.n))]:
        assert_child(problem, partition_crossover(problem, a, b), a, b)


@pytest.mark.parametrize("seed", range(5))
def test_property_float_and_non_metric_instances(seed):
    rng = np.random.default_rng(seed)
    m = rng.integers(1, 100, (60, 60))
    for problem in (Problem.from_coords(rng.random((200, 2))),
                    Problem.from_matrix(np.triu(m, 1) + np.triu(m, 1).T)):
        base = rng.permutation(problem.n)
        a, b = perturbed(base, 20, rng), perturbed(base, 20, rng)
        assert_child(problem, partition_crossover(problem, a, b), a, b)


def test_merge_pool_combines_every_parent():
    # parent i is spoilt everywhere but in region i: only combining all four gives the optimum
    problem = circle(60)
    optimum = np.arange(problem.n)
    starts = (2, 17, 32, 47)
    parents = []
    for keep in starts:
        tour = optimum
        for s in starts:
            tour = tour if s == keep else reversed_at(tour, s, s + 4)
        parents.append(tour)
    merged = merge_tours(problem, parents)
    assert_child(problem, merged, *parents)
    assert problem.tour_length(merged) == problem.tour_length(optimum)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_merge_skips_repeat_crossovers_and_returns_the_same_tour(monkeypatch, data_dir, seed):
    # the plain algorithm crosses the best with every other tour in every pass; a tour already
    # crossed with the current best gives the same child again, so skipping it changes nothing
    problem = load_problem(data_dir / "kroA100.tsp")
    rng = np.random.default_rng(seed)
    base = rng.permutation(problem.n)
    pool = sorted((perturbed(base, 6, rng) for _ in range(12)), key=problem.tour_length)
    best, plain_calls = pool[0], 0
    for _ in range(4):  # the plain algorithm, as a reference
        start = problem.tour_length(best)
        for other in pool[1:]:
            plain_calls += 1
            child = partition_crossover(problem, best, other)
            if problem.tour_length(child) < problem.tour_length(best):
                best = child
        if problem.tour_length(best) == start:
            break
    calls = []
    monkeypatch.setattr(merge_module, "partition_crossover",
                        lambda *a: calls.append(1) or partition_crossover(*a))
    merged = merge_tours(problem, pool)
    assert merged.tolist() == best.tolist()
    assert len(calls) < plain_calls  # the last, confirming pass is at least partly skipped


def test_merge_small_pools():
    problem = circle(20)
    tour = np.random.default_rng(1).permutation(20)
    assert problem.tour_length(merge_tours(problem, [tour])) == problem.tour_length(tour)
    with pytest.raises(ValueError):
        merge_tours(problem, [])


def test_invalid_parents_are_refused():
    problem = circle(10)
    with pytest.raises(TourError):
        partition_crossover(problem, np.arange(10), np.arange(9))
    with pytest.raises(TourError):
        partition_crossover(problem, np.arange(10), np.zeros(10, dtype=int))


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_scales_to_85900_nodes():
    rng = np.random.default_rng(7)
    problem = Problem.from_coords(rng.integers(0, 1_000_000, (85_900, 2)), "EUC_2D")
    base = base_tour(problem)
    a, b = perturbed(base, 2000, rng), perturbed(base, 2000, rng)
    child = partition_crossover(problem, a, b)
    assert_child(problem, child, a, b)
    # the parents' defects are mostly in different places: the child repairs many of them
    assert problem.tour_length(child) < min(problem.tour_length(a), problem.tour_length(b))


def test_one_cycle_is_recognised_from_any_start_and_either_direction():
    tour = np.random.default_rng(5).permutation(40)
    assert same_cycle(tour, np.roll(tour, 7))
    assert same_cycle(tour, tour[::-1].copy())
    other = tour.copy()
    other[3:9] = other[3:9][::-1]  # a 2-opt move: two edges differ
    assert not same_cycle(tour, other)
