"""Sending work to the workers: a round as one flat chord (or its units alone, for the leader
to merge), plus the initial-tour and bound tasks.

Tasks are sent by name through an app built from the shared configuration, so the coordinator
never imports the ``tasks`` package. Task ids are derived from (job, unit), which makes Flower
readable and keys each unit's delivery counter.
"""

from __future__ import annotations

import math

from celery import Celery, chord

from tsp_celery.cluster.celery_config import (
    BOUND_TASK,
    INITIAL_TASK,
    MERGE_TASK,
    PART_TASK,
    SOLVE_TASK,
    make_app,
    unit_limits,
)
from tsp_celery.plan import RoundPlan
from tsp_celery.settings import Settings
from tsp_celery.solver import MAX_POLISH_S


def unit_task_id(job_id: str, unit_id: str) -> str:
    """The Celery task id a unit is sent with (it also keys the delivery counter)."""
    return f"{job_id}-{unit_id}"


class Dispatcher:
    """Publishes the coordinator's tasks."""

    def __init__(self, settings: Settings, app: Celery | None = None) -> None:
        self.app = app or make_app(settings)

    def send_round(self, job_id: str, instance: str, plan: RoundPlan, fence: str,
                   lamport: int, units_deadline_at: float | None = None, *,
                   merge_task: bool = True) -> str:
        """``group(units) | round_callback`` for one round (without ``merge_task``, the group
        alone: the leader closes the round); returns the group id.

        ``units_deadline_at`` (wall clock) cuts short a unit that starts late, e.g. after
        waiting in the queue, so the round can still close on time.
        """
        common = {"job_id": job_id, "round_no": plan.round_no, "instance": instance,
                  "lamport": lamport}
        header = []
        for unit in plan.units:
            soft, hard = unit_limits(unit.budget_s)
            header.append(self.app.signature(
                SOLVE_TASK, kwargs={**common, "unit": unit.to_dict(), "fence": fence,
                                    "deadline_at": units_deadline_at},
                task_id=unit_task_id(job_id, unit.unit_id), soft_time_limit=soft, time_limit=hard))
        if not merge_task:
            # Each unit on its own, its Celery result not kept: the leader reads the unit's
            # record in the store, so a group or a stored result would only add bookkeeping
            # (a subscription here, a STARTED and a SUCCESS write on the worker).
            with self.app.producer_or_acquire() as producer:
                for sig in header:
                    sig.apply_async(producer=producer, ignore_result=True)
            return f"{job_id}-r{plan.round_no}"
        body = self.app.signature(MERGE_TASK, kwargs={**common, "fence": fence},
                                  task_id=f"{job_id}-r{plan.round_no}-merge")
        result = chord(header)(body)
        return str(result.parent.id if result.parent is not None else result.id)

    def send_initial(self, job_id: str, instance: str, seed: int, lamport: int,
                     partition_s: float = 0.0, max_part_nodes: int = 0, parts: int = 0,
                     slots: int = 1) -> str:
        """The first tour of a job beyond the matrix budget.

        With ``parts`` > 1: a chord of one task per part of a spatial partition (parts of at
        most ``max_part_nodes``), spread over the ``slots`` live worker processes within
        ``partition_s``, whose body joins and polishes them. Otherwise one task builds it.
        """
        common = {"job_id": job_id, "instance": instance, "seed": seed, "lamport": lamport}
        if parts > 1:
            part_s = partition_s / math.ceil(parts / max(slots, 1))
            soft, hard = unit_limits(part_s)
            header = [self.app.signature(
                PART_TASK, kwargs={**common, "index": i, "max_part_nodes": max_part_nodes,
                                   "budget_s": part_s},
                soft_time_limit=soft, time_limit=hard) for i in range(parts)]
            soft, hard = unit_limits(MAX_POLISH_S)
            body = self.app.signature(INITIAL_TASK, kwargs={**common, "parts": parts},
                                      soft_time_limit=soft, time_limit=hard)
            return str(chord(header)(body).id)
        soft, hard = unit_limits(partition_s + MAX_POLISH_S)
        res = self.app.send_task(INITIAL_TASK, kwargs={**common, "partition_s": partition_s},
                                 soft_time_limit=soft, time_limit=hard)
        return str(res.id)

    def send_bound(self, instance: str, budget_s: float, seed: int, lamport: int) -> str:
        soft, hard = unit_limits(budget_s)
        res = self.app.send_task(BOUND_TASK, kwargs={"instance": instance, "budget_s": budget_s,
                                                     "seed": seed, "lamport": lamport},
                                 soft_time_limit=soft, time_limit=hard)
        return str(res.id)
