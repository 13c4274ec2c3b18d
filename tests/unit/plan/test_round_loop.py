"""The round loop's stop decision as the cluster driver asks it, before each round."""

import pytest

from tsp_celery.plan.round_loop import RoundLoop
from tsp_celery.plan.stop import MaxRuntime, SearchState

GIB = 1 << 30

pytestmark = pytest.mark.timeout(10)


@pytest.mark.parametrize("n", [1000, 10_000, 15_112])
def test_a_cluster_job_without_a_tour_gets_its_first_round(n):
    # single-thread islands (the cluster's units): their usual slice at 10,000 nodes is minutes
    loop = RoundLoop(n, 0, MaxRuntime(60), GIB)
    assert loop.stop_reason(SearchState(0.2), slots=2, has_tour=False) is None
    assert loop.stop_reason(SearchState(59.8), slots=2, has_tour=False) == "time budget used"


def test_a_job_with_a_tour_skips_a_round_too_short_to_set_up():
    loop = RoundLoop(10_000, 0, MaxRuntime(60), GIB, merge=False)  # no pool: minute-long slices
    assert loop.stop_reason(SearchState(40.0), slots=2, has_tour=True) == "time budget used"
