"""Strategy: from (problem size, live worker slots, budget) to rounds of work units."""

from tsp_celery.plan.planner import plan_round
from tsp_celery.plan.round_plan import PlanInput, RoundPlan
from tsp_celery.plan.stop import MaxRuntime, MultipleCriteria, NoImprovement, TargetLength

__all__ = [
    "MaxRuntime",
    "MultipleCriteria",
    "NoImprovement",
    "PlanInput",
    "RoundPlan",
    "TargetLength",
    "plan_round",
]
