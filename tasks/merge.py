"""The chord body: close a round from the unit records (not from the chord's argument list)."""

from __future__ import annotations

import logging

from tasks.celeryapp import app
from tasks.runtime import runtime
from tsp_celery.cluster.celery_config import MERGE_TASK
from tsp_celery.cluster.merging import merge_round as close_round
from tsp_celery.errors import FencedWriteError
from tsp_celery.plan import RoundPlan

log = logging.getLogger(__name__)


@app.task(name=MERGE_TASK, bind=True)
def merge_round(self, results: list | None = None, *, job_id: str, round_no: int, instance: str,
                fence: str, lamport: int = 0) -> dict:
    """Merge round ``round_no`` of ``job_id`` and commit the best; fenced by the planner's lease.

    ``results`` (the header's return values) is only counted: duplicates and lost parts make it
    unreliable on Redis, so the unit records are the source of truth.
    """
    rt = runtime()
    rt.clock.observe(lamport)
    plan_record = rt.store.round_plan(job_id, round_no)
    if plan_record is None:
        return {"job_id": job_id, "round": round_no, "merged": False, "reason": "no such round"}
    plan = RoundPlan.from_dict(plan_record["plan"])
    try:
        outcome = close_round(rt.store, rt.problems.get(instance), job_id, plan, fence,
                              closer="chord", events=rt.events, clock=rt.clock)
    except FencedWriteError as exc:
        # The leader that planned this round is gone; its successor closes the round. Any
        # shorter tour was still committed (the best-tour CAS is not fenced).
        log.info("round %s of job %s: %s", round_no, job_id, exc)
        return {"job_id": job_id, "round": round_no, "merged": False, "reason": "fenced"}
    if outcome is None:
        return {"job_id": job_id, "round": round_no, "merged": False, "reason": "already closed"}
    return {"job_id": job_id, "round": round_no, "merged": True, "chord_parts": len(results or []),
            "best": outcome["best_after"], "improved": outcome["improved"],
            "missing": outcome["missing"]}
