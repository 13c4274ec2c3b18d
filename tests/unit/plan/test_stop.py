"""Stopping criteria: each says stop exactly when its condition holds."""

from __future__ import annotations

import pytest

from tsp_celery.plan.stop import MaxRuntime, MultipleCriteria, NoImprovement, TargetLength


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_max_runtime_counts_from_construction():
    clock = FakeClock()
    stop = MaxRuntime(5.0, clock=clock)
    clock.now += 4.9
    assert not stop(1.0)
    assert stop.remaining() == pytest.approx(0.1)
    clock.now += 0.1
    assert stop(1.0)
    assert stop.remaining() == 0.0


def test_target_length():
    stop = TargetLength(100)
    assert not stop(100.5)
    assert stop(100)


def test_no_improvement_resets_on_a_better_length():
    stop = NoImprovement(2)
    assert [stop(v) for v in (10, 10, 9, 9, 9)] == [False, False, False, False, True]


def test_multiple_criteria_calls_every_criterion():
    stale = NoImprovement(2)
    stop = MultipleCriteria([TargetLength(5), stale])
    assert not stop(10)
    assert not stop(10)  # stale: 1 (counted even though the target was checked first)
    assert stop(10)
    assert stop(5)


def test_bad_arguments():
    with pytest.raises(ValueError):
        MaxRuntime(-1)
    with pytest.raises(ValueError):
        NoImprovement(0)
    with pytest.raises(ValueError):
        MultipleCriteria([])
