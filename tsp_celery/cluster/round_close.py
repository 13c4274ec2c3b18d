"""Closing a round: read what its units stored, merge it, commit the best, record the outcome.

One function for both closers: the merge task (the chord body, on a worker) and the coordinator
(at the round's deadline, when the body never fired or units never came back). It reads the
unit records, never the chord's argument list, so duplicates and lost parts do not matter; it is
idempotent: a second close of the same round may commit a shorter tour but records nothing.

Island rounds merge with the job's elite pool (the few best distinct tours seen so far, as the
embedded engine keeps them) and then offer the pool their tours; with ``JobParams.merge`` off a
round keeps its shortest tour as it is and the pool stays empty.
"""

from __future__ import annotations

import logging
import time
from dataclasses import fields
from typing import Any

import numpy as np

from tsp_celery.cluster.events import EventLog, EventType
from tsp_celery.cluster.job import JobParams
from tsp_celery.cluster.lamport import LamportClock
from tsp_celery.cluster.store import JobStore
from tsp_celery.errors import TourError
from tsp_celery.plan import RoundPlan
from tsp_celery.plan.round_loop import merged_tour, pool_candidates, pooled, proves_optimal
from tsp_celery.problem import Problem
from tsp_celery.solver import UnitResult, update_elite

log = logging.getLogger(__name__)
_RESULT_FIELDS = {f.name for f in fields(UnitResult)}


def collect(plan: RoundPlan, records: dict[str, dict],
            tours: dict[str, np.ndarray | None]) -> tuple[list[UnitResult], dict]:
    """The round's stored unit results (from the units' ``records`` and ``tours``), and which
    units are missing or failed."""
    results: list[UnitResult] = []
    missing, failed = [], {}
    for spec in plan.units:
        rec = records.get(spec.unit_id)
        if rec is None:
            missing.append(spec.unit_id)
            continue
        tour = tours.get(spec.unit_id) if rec.get("ok") else None
        if tour is None:
            failed[spec.unit_id] = rec.get("error", "no tour stored")
            continue
        kwargs = {k: v for k, v in rec.items() if k in _RESULT_FIELDS}
        results.append(UnitResult(**{**kwargs, "tour": tour}))
    stamps = [int(r.get("lamport", 0)) for r in records.values()]
    return results, {"missing": missing, "failed": failed, "max_lamport": max(stamps, default=0)}


def close_round(store: JobStore, problem: Problem, job_id: str, plan: RoundPlan, fence: str, *,
                closer: str, events: EventLog | None = None,
                clock: LamportClock | None = None) -> dict[str, Any] | None:
    """Close round ``plan.round_no`` with what arrived. Returns the outcome, or None if the round
    was already closed. Raises FencedWriteError if ``fence`` is no longer the leader's lease."""
    inputs = store.round_inputs(job_id, plan.round_no, [u.unit_id for u in plan.units],
                                elite=pooled(plan.kind, True))
    if inputs.closed:
        return None
    rec = inputs.record
    merge = JobParams.from_dict(rec["params"]).merge
    feeds_pool = pooled(plan.kind, merge)
    results, seen = collect(plan, inputs.units, inputs.tours)
    if clock is not None:
        clock.observe(seen["max_lamport"])
    before = rec.get("best_length")
    elapsed = max(time.time() - rec.get("admitted_at", time.time()), 0.0)
    committed, candidate, error = False, None, ""
    if results:
        try:
            elite = inputs.elite if feeds_pool else []
            tour = merged_tour(problem, plan, inputs.base, results, elite, merge)
            candidate = problem.tour_length(tour)  # never trust a unit's own number
            proven = proves_optimal(results, candidate)
            engine = "+".join(sorted({r.engine for r in results}))
            committed = store.commit_best(job_id, tour, candidate, plan.round_no, elapsed,
                                          proven, engine) is True
        except (TourError, ValueError) as exc:  # a bad unit result must not end the job
            log.warning("round %s of job %s: merge rejected: %s", plan.round_no, job_id, exc)
            error = str(exc)
        else:
            if feeds_pool:  # after the commit: a fenced-out pool write must not cost the tour
                pool = update_elite(problem, (), pool_candidates(plan, results, tour, merge))
                store.offer_elite(job_id, [(problem.tour_length(t), t) for t in pool], fence)
    after = store.record(job_id).get("best_length")
    outcome = {"round": plan.round_no, "kind": plan.kind, "closer": closer,
               "received": [r.unit_id for r in results], "missing": seen["missing"],
               "failed": seen["failed"], "candidate": candidate, "best_before": before,
               "best_after": after, "improved": committed, "at": round(elapsed, 3),
               "merged_at": time.time(), "error": error}
    # Stamps for this close's events are taken now, so the outcome can carry the last one:
    # whoever reads the outcome (the coordinator) then stamps its next event after all of them.
    stamps = _stamps(clock, outcome) if clock is not None else {}
    outcome["lamport"] = stamps.get("merged", seen["max_lamport"] + 1)
    if not store.close_round(job_id, plan.round_no, outcome, committed, fence):
        return None
    if events is not None and clock is not None:
        _log_events(events, clock.node_id, stamps, job_id, outcome, fence)
    return outcome


def _stamps(clock: LamportClock, outcome: dict) -> dict[str, int]:
    out = {}
    if outcome["missing"]:
        out["lost"] = clock.tick()
    if outcome["improved"]:
        out["improved"] = clock.tick()
    out["merged"] = clock.tick()
    return out


def _log_events(events: EventLog, node: str, stamps: dict[str, int], job_id: str, outcome: dict,
                fence: str) -> None:
    r = outcome["round"]
    if "lost" in stamps:
        events.append(job_id, EventType.UNIT_LOST, node, stamps["lost"],
                      {"round": r, "units": outcome["missing"]}, fence=fence)
    if "improved" in stamps:
        events.append(job_id, EventType.IMPROVED, node, stamps["improved"],
                      {"round": r, "length": outcome["best_after"]}, fence=fence)
    events.append(job_id, EventType.ROUND_MERGED, node, stamps["merged"],
                  {k: outcome[k] for k in ("round", "closer", "received", "missing", "best_after",
                                           "improved")}, fence=fence)
