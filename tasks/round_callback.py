"""The chord body: close a round from the unit records (not from the chord's argument list)."""

from __future__ import annotations

import logging

from tasks.celeryapp import app
from tasks.runtime import runtime
from tsp_celery.cluster.celery_config import MERGE_TASK
from tsp_celery.cluster.round_close import close_round
from tsp_celery.errors import FencedWriteError
from tsp_celery.plan import RoundPlan

log = logging.getLogger(__name__)


@app.task(name=MERGE_TASK, bind=True)
def round_callback(self, results: list | None = None, *, job_id: str, round_no: int, instance: str,
                fence: str = "", lamport: int = 0) -> dict:
    """Merge round ``round_no`` of ``job_id`` and commit the best; fenced by the planner's lease.

    ``results`` (the header's return values) is only counted: duplicates and lost parts make it
    unreliable on Redis, so the unit records are the source of truth. So is the fence: the one
    recorded with the round's plan, and only while it is still the lease (the message's copy
    must match it); a round of a deposed leader is left to its successor, merge work unspent.
    """
    rt = runtime()
    rt.clock.observe(lamport)
    plan_record = rt.store.round_plan(job_id, round_no)
    if plan_record is None:
        return {"job_id": job_id, "round": round_no, "merged": False, "reason": "no such round"}
    plan = RoundPlan.from_dict(plan_record["plan"])
    planned = plan_record.get("fence") or ""
    if not planned or fence not in ("", planned) or rt.store.lease_value() != planned:
        log.info("round %s of job %s: planned under %r, not the lease now: left to the leader",
                 round_no, job_id, planned)
        return {"job_id": job_id, "round": round_no, "merged": False, "reason": "fenced"}
    fence = planned
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
