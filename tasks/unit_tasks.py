"""Solver tasks: one work unit of a round, and the first tour of a large instance (whole, or
its parts and their join).

Messages carry ids, a UnitSpec dict, a Lamport stamp and the planning leader's fence — never
arrays. Algorithmic failures are stored as a failed unit record and returned as a summary, so
the chord still fires; only infrastructure errors (Redis down) raise.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from tasks.celeryapp import app
from tasks.runtime import runtime
from tasks.unit_progress import Progress
from tsp_celery.cluster.celery_config import INITIAL_TASK, PART_TASK, SOLVE_TASK
from tsp_celery.cluster.codec import MessageError, decode_unit_message, is_job_id
from tsp_celery.cluster.connection import REDIS_DOWN
from tsp_celery.cluster.events import EventType
from tsp_celery.cluster.lease import parse_fence
from tsp_celery.cluster.round_store import StaleEpochError
from tsp_celery.errors import FencedWriteError, JobNotFoundError, TourError
from tsp_celery.solver import (
    PIECE_KINDS,
    UnitResult,
    UnitSpec,
    initial_tour,
    join_parts,
    part_seed,
    polished,
    solve_part,
    spatial_parts,
)
from tsp_celery.solver.stub import first_tour, stub_engine, unit_runner

log = logging.getLogger(__name__)

# A unit whose runs died this often without finishing kept killing its worker: give it up (it is
# recorded as failed, so the round closes without it). Redeliveries of a unit that finished (a
# worker restarted before its ack) do not count.
MAX_DELIVERIES = 3


def _job_state(store, job_id: str, round_no: int, unit_id: str) -> tuple[dict, str | None]:
    """The job record, and why running this unit is pointless now (job over or cancelled, round
    closed, the unit already reported: a redelivery after a lost ack), or None."""
    try:
        rec = store.record(job_id)
    except JobNotFoundError:
        return {}, "job not found"
    if rec["status"] != "running":
        return rec, f"job is {rec['status']}"
    if rec["cancel_requested"]:
        return rec, "job cancel requested"
    if store.round_merged(job_id, round_no) is not None:
        return rec, f"round {round_no} already closed"
    if store.unit_reported(job_id, round_no, unit_id):
        return rec, "already reported"
    return rec, None


@app.task(name=SOLVE_TASK, bind=True)
def solve_unit(self, job_id: str, round_no: int, instance: str, unit: dict | None = None,
               lamport: int = 0, fence: str = "", deadline_at: float | None = None) -> dict:
    """Run one unit and store its result (first write wins); return a small JSON summary."""
    rt = runtime()
    worker = self.request.hostname or rt.clock.node_id
    try:
        spec = decode_unit_message(job_id, round_no, instance, unit, lamport, deadline_at).unit
        rt.clock.observe(lamport)
    except MessageError as exc:  # a corrupt message: rejected, said in the log (and job log)
        return _reject(rt, job_id, round_no, unit, worker, str(exc))
    summary = {"job_id": job_id, "round": round_no, "unit_id": spec.unit_id, "ok": False}
    epoch = _fence_epoch(fence)
    task_id = self.request.id or spec.unit_id
    attempts, crashed = rt.store.start_attempt(task_id)
    try:
        if crashed >= MAX_DELIVERIES:
            return _fail(rt, job_id, round_no, spec, worker, attempts, epoch,
                         f"gave up after {crashed} runs that never finished (it kept killing "
                         f"its worker)")
        rec, reason = _job_state(rt.store, job_id, round_no, spec.unit_id)
        if reason:
            return {**summary, "skipped": reason}
        return _run(self, rt, job_id, round_no, instance, spec, worker, attempts, epoch,
                    deadline_at, summary, rec, fence)
    except StaleEpochError as exc:
        log.info("job %s: %s", job_id, exc)
        return {**summary, "skipped": "stale epoch"}
    finally:
        rt.store.end_attempt(task_id)  # never reached when the run kills its process


def _run(task, rt, job_id: str, round_no: int, instance: str, spec: UnitSpec, worker: str,
         attempts: int, epoch: str, deadline_at: float | None, summary: dict, rec: dict,
         fence: str) -> dict:
    rt.events.emit(job_id, EventType.UNIT_STARTED, rt.clock,
                   {"round": round_no, "unit": spec.unit_id, "worker": worker,
                    "attempt": attempts})
    progress = Progress(task, {"job_id": job_id, "round": round_no, "unit_id": spec.unit_id,
                               "kind": spec.kind, "budget_s": spec.budget_s, "worker": worker})
    progress.report(force=True, phase="started")
    try:
        problem = rt.problems.get(instance)
        base = rt.store.base_tour(job_id, round_no) if spec.kind in PIECE_KINDS else None
        if spec.kind in PIECE_KINDS and base is None:
            raise ValueError(f"round {round_no} has no base tour")
        pool = rt.store.elite_tours(job_id) if spec.kind == "union" else []
        result = unit_runner()(problem, spec, base, pool=pool,
                               matrix_budget_bytes=rt.settings.matrix_budget_bytes,
                               deadline=deadline_at, on_progress=progress)
        # The record carries the stamp of the "finished" event, so the merge stamps after it.
        stamp = rt.clock.tick()
        record = {**result.summary(), "ok": True, "worker": worker, "attempt": attempts,
                  "lamport": stamp}
        stored = rt.store.record_unit(job_id, round_no, spec.unit_id, record, result.tour,
                                      epoch)
    except (*REDIS_DOWN, StaleEpochError):
        raise  # infrastructure: the round's deadline (or a redelivery) takes care of it
    except Exception as exc:  # algorithmic trouble, bad data, soft time limit: a failed unit
        return _fail(rt, job_id, round_no, spec, worker, attempts, epoch,
                     f"{type(exc).__name__}: {exc}")
    rt.events.append(job_id, EventType.UNIT_FINISHED, rt.clock.node_id, stamp,
                     {"round": round_no, "unit": spec.unit_id, "worker": worker,
                      "length": record["length"], "stored": stored})
    if stored and fence:
        _end_job(rt, job_id, round_no, problem, result, rec, fence)
    return {**summary, "ok": True, "length": record["length"], "stored": stored,
            "elapsed_s": record.get("elapsed_s")}


def _end_job(rt, job_id: str, round_no: int, problem, result: UnitResult, rec: dict,
             fence: str) -> None:
    """A whole tour that meets the job's target, or is proven optimal, ends the job here: the
    worker commits it, closes the round and finishes the job in one script fenced with the
    lease the round was planned under (JobQueue.finish_by_unit), instead of the leader being
    woken to merge the round, decide to stop and finish. If the script refuses (the leader
    changed, the job was cancelled, the round is closed) the unit's stored result goes the
    usual way."""
    target = rec.get("params", {}).get("target")
    if result.kind in PIECE_KINDS or not (
            result.proven_optimal or (target is not None and result.length <= target)):
        return
    try:
        tour = problem.validate_tour(result.tour)  # never trust a unit's own number
    except TourError as exc:  # the leader's merge rejects it too; the job goes on
        log.warning("job %s: unit %s returned an invalid tour: %s", job_id, result.unit_id, exc)
        return
    exact = replace(result, tour=tour, length=problem.tour_length(tour))
    elapsed = max(time.time() - rec.get("admitted_at", time.time()), 0.0)
    reason = "proven optimal" if exact.proven_optimal else "target reached"
    improved = rt.events.stamp(EventType.IMPROVED, rt.clock, {"round": round_no})
    merged = rt.events.stamp(EventType.ROUND_MERGED, rt.clock,
                             {"round": round_no, "closer": "worker",
                              "received": [result.unit_id], "missing": []})
    done = rt.events.stamp(EventType.DONE, rt.clock,
                           {"reason": reason, "rounds": round_no, "error": ""})
    try:
        out = rt.store.finish_by_unit(job_id, round_no, exact, elapsed=elapsed, fence=fence,
                                      improved=improved, merged=merged, done=done)
    except FencedWriteError:
        out = f"{fence} is not the leader's lease any more"
    log.info("job %s: unit %s of round %s %s", job_id, result.unit_id, round_no,
             "ended the job" if out == "done" else f"did not end the job ({out})")


def _fence_epoch(fence: str) -> str:
    """The store epoch a unit was sent in ('' for a message without a well-formed fence)."""
    try:
        return parse_fence(fence).epoch
    except ValueError:
        return ""


def _reject(rt, job_id: object, round_no: object, unit: object, worker: str,
            error: str) -> dict:
    """A malformed message: an error in the worker log, a unit_failed event when the job id is
    well formed (a garbage id must not create keys), and a summary so the chord still fires."""
    log.error("rejected solve_unit message (job %.80r, round %.80r): %s", job_id, round_no, error)
    unit_id = unit.get("unit_id") if isinstance(unit, dict) else None
    if not is_job_id(job_id):
        return {"ok": False, "error": error}
    rt.events.emit(job_id, EventType.UNIT_FAILED, rt.clock,
                   {"round": round_no, "unit": unit_id, "worker": worker, "error": error})
    return {"job_id": job_id, "round": round_no, "unit_id": unit_id, "ok": False, "error": error}


def _fail(rt, job_id: str, round_no: int, spec: UnitSpec, worker: str, attempts: int,
          epoch: str, error: str) -> dict:
    log.warning("unit %s of job %s failed: %s", spec.unit_id, job_id, error)
    stamp = rt.clock.tick()
    record = {"unit_id": spec.unit_id, "kind": spec.kind, "ok": False, "error": error,
              "worker": worker, "attempt": attempts, "lamport": stamp}
    rt.store.record_unit(job_id, round_no, spec.unit_id, record, None, epoch)
    rt.events.append(job_id, EventType.UNIT_FAILED, rt.clock.node_id, stamp,
                     {"round": round_no, "unit": spec.unit_id, "worker": worker, "error": error})
    return {"job_id": job_id, "round": round_no, "unit_id": spec.unit_id, "ok": False,
            "error": error}


@app.task(name=PART_TASK, bind=True)
def solve_initial_part(self, job_id: str, instance: str, index: int, max_part_nodes: int,
                       budget_s: float, seed: int = 0, lamport: int = 0) -> dict:
    """One part of a partition first tour, kept in Redis for the join (the chord's body)."""
    rt = runtime()
    rt.clock.observe(lamport)
    problem = rt.problems.get(instance)
    if problem.coords is None:
        return {"index": index, "ok": False, "error": "no coordinates to partition"}
    nodes = spatial_parts(problem.coords, max_part_nodes)[index]
    try:
        cycle = (nodes if stub_engine()  # the stub keeps the part in its given order
                 else solve_part(problem, nodes, budget_s, part_seed(seed, index)))
    except Exception as exc:  # the chord must still fire: the join falls back to greedy
        log.warning("job %s: part %d failed", job_id, index, exc_info=True)
        return {"index": index, "ok": False, "error": str(exc)[:500]}
    rt.store.store_part(job_id, index, cycle)
    log.info("job %s: part %d (%d nodes) solved on %s", job_id, index, len(nodes),
             self.request.hostname or rt.clock.node_id)
    return {"index": index, "ok": True}


@app.task(name=INITIAL_TASK, bind=True)
def build_initial_tour(self, part_results: list | None = None, job_id: str = "",
                       instance: str = "", seed: int = 0, lamport: int = 0,
                       partition_s: float = 0.0, parts: int = 0) -> dict:
    """The first tour of an instance beyond the matrix budget; committed by CAS.

    With ``parts``, the body of a chord of part tasks: their tours are joined (greedy instead
    if one is missing). Otherwise built here: a spatial partition when ``partition_s``
    allows (parts one after the other), else greedy. Polished either way.
    """
    rt = runtime()
    rt.clock.observe(lamport)
    started = time.monotonic()
    problem = rt.problems.get(instance)
    budget = rt.settings.matrix_budget_bytes
    cycles = rt.store.take_parts(job_id, parts) if parts else []
    if stub_engine():
        tour, method = first_tour(problem, seed), "stub sweep"
    elif cycles and all(c is not None for c in cycles):
        tour, method = polished(problem, join_parts(problem, cycles)), f"{parts} parts"
    else:
        if parts:
            log.warning("job %s: %d of %d parts missing; greedy first tour instead", job_id,
                        sum(c is None for c in cycles), parts)
        tour = initial_tour(problem, seed, matrix_budget_bytes=budget, partition_s=partition_s)
        method = "built in one task"
    tour = problem.validate_tour(tour)
    length = problem.tour_length(tour)
    rec = rt.store.record(job_id)
    elapsed = max(time.time() - rec.get("admitted_at", time.time()), 0.0)
    stamp = rt.clock.tick()  # stored with the tour: the first round is planned after it
    committed = rt.store.commit_best(job_id, tour, length, 0, elapsed, False, "initial", stamp)
    if committed is True:
        rt.events.append(job_id, EventType.IMPROVED, rt.clock.node_id, stamp,
                         {"round": 0, "length": length, "engine": "initial", "method": method})
    return {"job_id": job_id, "length": length, "committed": committed is True,
            "elapsed_s": round(time.monotonic() - started, 3)}
