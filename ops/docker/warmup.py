"""Build-time warm-up of the image: import what a worker imports and solve two tiny instances.

`docker build` runs this once, as root, after installing the package: every module a worker loads
is imported (pip has already byte-compiled them into site-packages) and the compiled engines
(fast-tsp, numpy) run once, so a broken wheel fails the build instead of a worker's first unit.
Also a smoke test outside Docker: tests/deploy runs it against the installed package.
"""

from __future__ import annotations

import time

import numpy as np

import tasks  # noqa: F401  (the Celery app and its task modules, as `celery -A tasks` loads them)
from tsp_celery.problem.model import Problem
from tsp_celery.solver.units import UnitSpec, run_unit


def main() -> None:
    rng = np.random.default_rng(0)
    for n, kind in ((10, "exact"), (60, "island")):
        problem = Problem.from_coords(rng.integers(0, 1000, size=(n, 2)), "EUC_2D")
        started = time.perf_counter()
        result = run_unit(problem, UnitSpec(f"warmup-{kind}", kind, seed=0, budget_s=1.0))
        problem.validate_tour(result.tour)
        print(f"warm-up {kind} n={n}: length {result.length} by {result.engine} "
              f"in {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
