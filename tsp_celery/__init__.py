"""tsp-celery: a distributed near-optimal Traveling Salesman solver on Celery and Redis.

    from tsp_celery import load, solve
    result = solve(load("examples/berlin52.tsp"), time=5)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tsp_celery.problem import Problem
from tsp_celery.result import Result

if TYPE_CHECKING:
    from tsp_celery.api import load, solve

__all__ = ["Problem", "Result", "load", "solve"]


def __getattr__(name: str) -> Any:
    # load/solve pull in the solver and the process pool: imported on first use, so that
    # `import tsp_celery.errors` (workers, the CLI shell) stays light.
    if name in ("load", "solve"):
        from tsp_celery import api

        return getattr(api, name)
    raise AttributeError(f"module 'tsp_celery' has no attribute {name!r}")
