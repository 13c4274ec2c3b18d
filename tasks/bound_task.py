"""Lower bound task: Held-Karp, then branch-and-cut (solver.certify), beside the search;
cached per instance (content hash)."""

from __future__ import annotations

import time

from tasks.celeryapp import app
from tasks.runtime import runtime
from tsp_celery.cluster.celery_config import BOUND_TASK
from tsp_celery.solver.certify import certified_bound
from tsp_celery.solver.held_karp import LowerBound

# How often a bound still improving is written to the cache: the job's status (and the
# gateway's page) shows it while the task runs, and a job that ends first still has one.
PROGRESS_EVERY_S = 0.5


@app.task(name=BOUND_TASK, bind=True)
def lower_bound(self, instance: str, budget_s: float, seed: int = 0, lamport: int = 0) -> dict:
    """Compute the bound of ``instance`` unless an at least as long run is cached; the cache
    keeps the better of old and new (a valid bound before an estimate, then the higher)."""
    rt = runtime()
    rt.clock.observe(lamport)
    cached = rt.store.get_bound(instance)
    if cached is not None and cached.get("elapsed_s", 0.0) >= budget_s:
        return {**cached, "cached": True}
    del seed    # the bound is deterministic
    written = [0.0]

    def on_progress(bound: LowerBound) -> None:
        if time.monotonic() - written[0] >= PROGRESS_EVERY_S:
            written[0] = time.monotonic()
            rt.store.offer_bound(instance, bound.to_dict())

    value = certified_bound(rt.problems.get(instance), budget_s,
                            on_progress=on_progress).to_dict()
    rt.store.offer_bound(instance, value)
    return {**value, "cached": False}
