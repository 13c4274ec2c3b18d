"""Lower bound task: a Held-Karp bound beside the search, cached per instance."""

from __future__ import annotations

from tasks.celeryapp import app
from tasks.runtime import runtime
from tsp_celery.cluster.celery_config import BOUND_TASK
from tsp_celery.solver.bound import held_karp_bound


@app.task(name=BOUND_TASK, bind=True)
def lower_bound(self, instance: str, budget_s: float, seed: int = 0, lamport: int = 0) -> dict:
    """Compute (or reuse) the bound of ``instance``; a proven or longer-run bound is kept."""
    rt = runtime()
    rt.clock.observe(lamport)
    cached = rt.store.get_bound(instance)
    if cached is not None and (cached.get("proven") or cached.get("elapsed_s", 0) >= budget_s):
        return {**cached, "cached": True}
    bound = held_karp_bound(rt.problems.get(instance), time_budget_s=budget_s, seed=seed)
    value = bound.to_dict()
    if cached is None or value["value"] >= cached.get("value", 0):
        rt.store.set_bound(instance, value)
    return {**value, "cached": False}
