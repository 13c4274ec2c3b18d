"""A stand-in for the solver, for benchmarks and tests of the cluster at scale (never the default).

With ``TSP_CELERY_STUB_ENGINE=sleep`` a worker's units sleep for their slice and hand back a tour
they were given (the round's base, the best of a union's pool, or a stand-in first tour when there
is none yet), and a first tour of a large instance is that stand-in too. Everything around the unit
(events, records, tours in Redis, progress, merges) runs as for a real unit, so hundreds of worker
slots fit on a few cores (``celery worker -P threads``) and what is measured is the cluster.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from tsp_celery.errors import TspCeleryError
from tsp_celery.problem.model import Problem
from tsp_celery.solver.units import PIECE_KINDS, UnitResult, UnitSpec, run_unit, unchanged_result

STUB_ENV = "TSP_CELERY_STUB_ENGINE"
STUB_ENGINES = ("sleep",)

UnitRunner = Callable[..., UnitResult]


def stub_engine(env: dict | None = None) -> str:
    """The stub named by TSP_CELERY_STUB_ENGINE ('' when unset: the real solver)."""
    value = (os.environ if env is None else env).get(STUB_ENV, "").strip().lower()
    if value and value not in STUB_ENGINES:
        raise TspCeleryError(f"Expected {STUB_ENV} to be one of {', '.join(STUB_ENGINES)} "
                             f"or unset, got {value!r}.")
    return value


def unit_runner(env: dict | None = None) -> UnitRunner:
    """``run_unit``, or the sleeping stand-in when the stub engine is selected."""
    return sleep_unit if stub_engine(env) else run_unit


# A stand-in first tour differs from the others of its round by this many segment reversals, as
# real island tours differ in a few places (so a round's merge does realistic work).
REVERSALS = 8


def first_tour(problem: Problem, seed: int) -> np.ndarray:
    """The stub's tour where there is none yet, in O(n log n) with no distance matrix: a
    boustrophedon sweep over strips of the plane (a shuffle without coordinates), then a few
    seeded segment reversals."""
    rng = np.random.default_rng(seed)
    n = problem.n
    if problem.coords is None:
        return rng.permutation(n)
    x, y = problem.coords[:, 0], problem.coords[:, 1]
    strips = max(1, int(np.sqrt(n / 2)))
    strip = np.minimum(((y - y.min()) / (np.ptp(y) or 1.0) * strips).astype(int), strips - 1)
    tour = np.lexsort((np.where(strip % 2, -x, x), strip))
    for _ in range(REVERSALS):
        i, j = sorted(rng.integers(0, n, 2))
        tour[i:j] = tour[i:j][::-1]
    return tour


def sleep_unit(problem: Problem, spec: UnitSpec, base_tour: np.ndarray | None = None, *,
               pool=(), matrix_budget_bytes: int = 0, deadline: float | None = None,
               on_progress: Callable[[dict], None] | None = None) -> UnitResult:
    """``run_unit``'s signature: sleep for the unit's slice (cut at ``deadline``), then return
    what it was given, unimproved."""
    started = time.monotonic()
    budget_s = spec.budget_s
    if deadline is not None:
        budget_s = max(0.0, min(budget_s, deadline - time.time()))
    time.sleep(budget_s)
    base = base_tour
    if base is None and spec.kind not in PIECE_KINDS and spec.kind != "union":
        base = first_tour(problem, spec.seed)
    result = replace(unchanged_result(problem, spec, base, list(pool)), engine="stub-sleep",
                     elapsed_s=time.monotonic() - started)
    if on_progress is not None:
        on_progress(result.summary())
    return result
