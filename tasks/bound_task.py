"""Lower bound task: Held-Karp, then branch-and-cut (solver.certify), beside the search;
cached per instance (content hash)."""

from __future__ import annotations

from tasks.celeryapp import app
from tasks.runtime import runtime
from tsp_celery.cluster.celery_config import BOUND_TASK
from tsp_celery.solver.certify import certified_bound


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
    value = certified_bound(rt.problems.get(instance), budget_s).to_dict()
    if cached is None or ((value["proven"], value["value"])
                          >= (cached.get("proven", False), cached.get("value", 0.0))):
        rt.store.set_bound(instance, value)
    return {**value, "cached": False}
