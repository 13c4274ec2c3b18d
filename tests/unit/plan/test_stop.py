"""Stopping criteria: each says stop exactly when its condition holds, combines with ``|`` and
round-trips as the data a job record stores."""

from __future__ import annotations

import math

import pytest

from tsp_celery import plan
from tsp_celery.cluster.job import JobParams
from tsp_celery.plan import MaxRuntime, NoImprovement, SearchState, TargetLength


def test_max_runtime_reads_the_elapsed_time():
    stop = MaxRuntime(5.0)
    assert stop.reason(SearchState(4.9)) is None
    assert stop.reason(SearchState(5.0)) == "time budget used"


def test_target_length():
    stop = TargetLength(100)
    assert not stop(SearchState(0.0, 100.5))
    assert stop(SearchState(0.0, 100))
    assert not stop(SearchState(0.0))  # no tour yet: inf


def test_no_improvement_counts_closed_rounds_without_a_shorter_tour():
    stop = NoImprovement(rounds=2)
    assert [stop(SearchState(0.0, 9, stall)) for stall in (0, 1, 2)] == [False, False, True]
    assert stop.reason(SearchState(0.0, 9, 2)) == "no improvement in 2 rounds"


def test_or_combines_and_the_first_member_gives_the_reason():
    stop = TargetLength(5) | NoImprovement(2) | MaxRuntime(30)
    assert isinstance(stop, plan.AnyOf) and len(stop.members()) == 3
    assert stop.reason(SearchState(1.0, 10, 0)) is None
    assert stop.reason(SearchState(31.0, 5, 3)) == "target reached"
    assert stop.reason(SearchState(31.0, 6, 0)) == "time budget used"
    assert stop.time_limit == 30


@pytest.mark.parametrize("stop", [
    MaxRuntime(30),
    MaxRuntime(30) | TargetLength(7542.0) | NoImprovement(5),
    TargetLength(12.5) | NoImprovement(1),
])
def test_criteria_round_trip_as_data(stop):
    d = stop.to_dict()
    assert plan.StoppingCriterion.from_dict(d).to_dict() == d
    assert plan.StoppingCriterion.from_dict(d) == stop


def test_of_two_criteria_of_a_kind_the_first_to_fire_is_kept():
    assert (MaxRuntime(30) | MaxRuntime(10)).to_dict() == {"max_runtime": 10}
    assert (TargetLength(5) | TargetLength(7)).to_dict() == {"target": 7}


def test_job_params_hold_the_criteria_as_their_stop_fields():
    params = JobParams(time_s=20, target=100.0, stall_rounds=3)
    stop = params.stop_criterion()
    assert stop.to_dict() == {"max_runtime": 20, "target": 100.0, "no_improvement": 3}
    again = JobParams.from_stop(stop, seed=4)
    assert (again.time_s, again.target, again.stall_rounds, again.seed) == (20, 100.0, 3, 4)
    assert JobParams().stop_criterion().to_dict() == {"max_runtime": 10.0}
    assert math.isinf(SearchState(0.0).best_length)


def test_bad_arguments():
    with pytest.raises(ValueError):
        MaxRuntime(-1)
    with pytest.raises(ValueError):
        NoImprovement(0)
    with pytest.raises(ValueError):
        plan.AnyOf([])
