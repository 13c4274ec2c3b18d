"""Strategy: from (problem size, live worker slots, budget) to rounds of work units, the round
loop both backends share, and the stopping criteria."""

from tsp_celery.plan.planner import plan_round
from tsp_celery.plan.round_loop import RoundLoop
from tsp_celery.plan.round_plan import PlanInput, RoundPlan
from tsp_celery.plan.stop import (
    AnyOf,
    MaxRuntime,
    NoImprovement,
    SearchState,
    StoppingCriterion,
    TargetLength,
)

__all__ = [
    "AnyOf",
    "MaxRuntime",
    "NoImprovement",
    "PlanInput",
    "RoundLoop",
    "RoundPlan",
    "SearchState",
    "StoppingCriterion",
    "TargetLength",
    "plan_round",
]
