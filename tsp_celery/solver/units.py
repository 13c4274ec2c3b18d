"""Work units: the pure functions that both the embedded pool and the Celery workers run.

A unit is (problem, UnitSpec, base tour) -> UnitResult. Kinds:
- ``exact``: Held–Karp over the full matrix (n <= 16), proven optimal;
- ``island``: one fast-tsp run over the full matrix (it must fit the matrix budget);
- ``union``: the shortest tour in the union graph of a pool of tours (the elite pool), found
  by integer programming window by window (``union``): it combines what island runs found
  where crossover cannot;
- ``segment``: base_tour[start:start+size] (wrapping) improved as a path with fixed ends;
- ``region``: the nodes at positions start..start+size (wrapping) of the space-filling-curve
  order (``decompose.region_nodes``) re-routed wherever the tour passes through them, the tour
  outside kept (see ``path``); nodes can move between the tour's passes through the region.
Units stop by themselves within their budget, validate every tour and score it with exact
distances, and never raise for algorithmic trouble: they hand back the base unchanged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields

import numpy as np

from tsp_celery.problem.model import Problem
from tsp_celery.settings import DEFAULT_MATRIX_BUDGET_MB
from tsp_celery.solver.budget import fits_matrix_budget, max_matrix_nodes
from tsp_celery.solver.construct import greedy_tour
from tsp_celery.solver.crossover import merge_tours
from tsp_celery.solver.decompose import region_nodes
from tsp_celery.solver.elite import update_elite
from tsp_celery.solver.engine import engine_tour, get_engine
from tsp_celery.solver.exact import MAX_EXACT_NODES
from tsp_celery.solver.matrix import whole_matrix
from tsp_celery.solver.partition import partition_tour, solve_part
from tsp_celery.solver.path import (
    SEPARATOR,
    runs_in_tour,
    sequence_length,
    solve_path,
    solve_sequence,
)
from tsp_celery.solver.polish import polish
from tsp_celery.solver.splice import splice
from tsp_celery.solver.union import union_tour

__all__ = [
    "KINDS",
    "UnitResult",
    "UnitSpec",
    "apply_results",
    "fits_matrix_budget",
    "initial_tour",
    "run_unit",
]

log = logging.getLogger(__name__)

KINDS = ("exact", "island", "union", "segment", "region")
PIECE_KINDS = ("segment", "region")
# Units whose result is a whole tour. They are planned only where the full matrix fits the
# budget: islands run fast-tsp on it, and a union unit merges the pool those islands filled.
WHOLE_KINDS = ("island", "union")
DEFAULT_MATRIX_BUDGET_BYTES = DEFAULT_MATRIX_BUDGET_MB * 1024 * 1024
# Construction polish: converges in ~0.5 ms per node here (pla33810: 17 s); never past the cap.
POLISH_S_PER_NODE = 0.0005
MAX_POLISH_S = 30.0
# A partition first tour needs this long per node to beat greedy + polish (pla33810, 3 parts,
# 2 threads: 3 s gave 27 % above the optimum, 6 s 3.1 %, 12 s 0.95 %), and parts this large.
PARTITION_MIN_S_PER_NODE = 0.0002
PARTITION_MIN_PART_NODES = 200
# The engine each kind runs (union units solve integer programs with HiGHS, see solver.union).
_ENGINE_OF = {"exact": "exact", "island": "fast-tsp", "union": "highs", "segment": "fast-tsp",
              "region": "fast-tsp"}


@dataclass(frozen=True)
class UnitSpec:
    """What one unit does; JSON-able, it travels in Celery messages."""

    unit_id: str
    kind: str
    seed: int
    budget_s: float
    start: int = 0
    size: int = 0
    threads: int = 1  # island: fast-tsp threads searching together (that many cores)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Expected kind in {KINDS}, got {self.kind!r}.")
        if not self.budget_s >= 0:
            raise ValueError(f"Expected budget_s >= 0, got {self.budget_s}.")
        if self.start < 0 or self.size < 0:
            raise ValueError(f"Expected start, size >= 0, got {self.start}, {self.size}.")
        if self.threads < 1:
            raise ValueError(f"Expected threads >= 1, got {self.threads}.")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> UnitSpec:
        try:
            return cls(
                unit_id=str(d["unit_id"]),
                kind=str(d["kind"]),
                seed=int(d["seed"]),
                budget_s=float(d["budget_s"]),
                start=int(d.get("start", 0)),
                size=int(d.get("size", 0)),
                threads=int(d.get("threads", 1)),
            )
        except KeyError as e:
            raise ValueError(f"Expected key {e.args[0]!r} in a unit spec.") from None


@dataclass
class UnitResult:
    """A unit's outcome. ``tour`` is, by kind:

    exact/island/union: a full tour; segment: the segment's nodes in their new order, same first
    and last node; region: the region's nodes in their new cyclic order with SEPARATOR (-1) where
    the tour leaves the region. ``length``/``base_length``: for segment and region, the new and
    the base length of the edges inside them.
    """

    unit_id: str
    kind: str
    tour: np.ndarray
    length: int | float
    base_length: int | float | None
    proven_optimal: bool
    elapsed_s: float
    engine: str

    @property
    def improved(self) -> bool:
        """For a segment or region: whether it got shorter than in the base tour."""
        return self.base_length is not None and self.length < self.base_length

    def summary(self) -> dict:
        """Everything but the tour, JSON-able."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "tour"}


def _segment_of(base: np.ndarray, spec: UnitSpec) -> np.ndarray:
    return base[(spec.start + np.arange(spec.size)) % len(base)]


def _region_of(problem: Problem, base: np.ndarray, spec: UnitSpec) -> np.ndarray:
    """The region's base sequence: its nodes in tour order, cut where the tour leaves."""
    return runs_in_tour(base, region_nodes(problem, base, spec.start, spec.size))


def _check(problem: Problem, spec: UnitSpec, base: np.ndarray | None, pool: list[np.ndarray],
           budget_bytes: int) -> None:
    """Caller errors (a plan that cannot run) raise ValueError before any work."""
    n = problem.n
    if spec.kind == "exact" and n > MAX_EXACT_NODES:
        raise ValueError(f"Expected n <= {MAX_EXACT_NODES} for an exact unit, got {n}.")
    if spec.kind in WHOLE_KINDS and not fits_matrix_budget(n, budget_bytes):
        raise ValueError(f"An {spec.kind} unit needs a full matrix; n={n} does not fit the "
                         "budget.")
    if spec.kind == "union" and not pool:
        raise ValueError("A union unit needs a pool of tours.")
    if spec.kind in PIECE_KINDS:
        if base is None:
            raise ValueError(f"A {spec.kind} unit needs a base tour.")
        if not 2 <= spec.size <= n:
            raise ValueError(f"Expected 2 <= size <= {n} for a {spec.kind}, got {spec.size}.")


def _full_tour(problem: Problem, spec: UnitSpec, budget_s: float) -> tuple[np.ndarray, bool]:
    engine = get_engine(_ENGINE_OF[spec.kind])
    if spec.kind == "exact":
        return engine.solve(problem.submatrix(), budget_s, spec.seed), True
    if spec.threads > 1:
        # A multi-thread unit holds the job's whole share and stops once stalled, so the next
        # restart can begin. Restarts share one matrix in file order (``whole_matrix``, built
        # with all the unit's threads): fast-tsp's runs differ by themselves, no relabelling
        # is needed to make them diverse.
        started = time.monotonic()
        matrix = whole_matrix(problem, spec.threads)
        tour = engine_tour(engine, matrix, budget_s - (time.monotonic() - started), spec.seed,
                           spec.threads, until_converged=True)
        return tour, False
    return solve_part(problem, np.arange(problem.n), budget_s, spec.seed, engine=engine), False


def _run(problem: Problem, spec: UnitSpec, base: np.ndarray | None, pool: list[np.ndarray],
         budget_s: float) -> UnitResult:
    engine = _ENGINE_OF[spec.kind]
    if spec.kind == "union":
        tour = union_tour(problem, pool, budget_s, spec.seed)
        return UnitResult(spec.unit_id, spec.kind, tour, problem.tour_length(tour), None, False,
                          0.0, engine)
    if spec.kind in PIECE_KINDS:
        assert base is not None
        if spec.kind == "segment":
            sub = solve_path(problem, _segment_of(base, spec), get_engine(engine), budget_s,
                             spec.seed)
        else:
            sub = solve_sequence(problem, _region_of(problem, base, spec), get_engine(engine),
                                 budget_s, spec.seed)
        return UnitResult(spec.unit_id, spec.kind, sub.sequence, sub.length, sub.base_length,
                          False, 0.0, engine)
    tour, proven = _full_tour(problem, spec, budget_s)
    tour = problem.validate_tour(tour)
    return UnitResult(spec.unit_id, spec.kind, tour, problem.tour_length(tour), None, proven,
                      0.0, engine)


def unchanged_result(problem: Problem, spec: UnitSpec, base: np.ndarray | None,
               pool: list[np.ndarray]) -> UnitResult:
    """The base (a union: the best of its pool) handed back when a unit ran into trouble."""
    if spec.kind == "union":
        base = min(pool, key=problem.tour_length)
    if spec.kind in PIECE_KINDS:
        assert base is not None
        if spec.kind == "segment":
            seq = _segment_of(base, spec)
            length = sequence_length(problem, np.concatenate([[SEPARATOR], seq]))
        else:
            seq = _region_of(problem, base, spec)
            length = sequence_length(problem, seq)
        return UnitResult(spec.unit_id, spec.kind, seq, length, length, False, 0.0, "none")
    # Never the identity order: some instances ship in a good order (pr2392's is optimal),
    # which would pass a crashed kernel off as a great result.
    tour = base if base is not None else greedy_tour(problem, spec.seed)
    return UnitResult(spec.unit_id, spec.kind, tour, problem.tour_length(tour), None, False,
                      0.0, "none")


def run_unit(
    problem: Problem,
    spec: UnitSpec,
    base_tour: np.ndarray | None = None,
    *,
    pool: Sequence[np.ndarray] = (),
    matrix_budget_bytes: int = DEFAULT_MATRIX_BUDGET_BYTES,
    deadline: float | None = None,
    on_progress: Callable[[dict], None] | None = None,
) -> UnitResult:
    """Run one unit within ``spec.budget_s`` seconds (and before ``deadline``, a time.time()).

    ``pool``: the tours a union unit merges (the elite pool). Memory: O(n^2) only for
    exact/island (inside the budget); a union costs O(n) per pool tour; a segment costs
    O(size^2) plus the O(n) base tour.
    ``on_progress`` receives the result's summary when the unit is done.
    """
    started = time.monotonic()
    base = None if base_tour is None else problem.validate_tour(base_tour)
    tours = [problem.validate_tour(t) for t in pool]
    _check(problem, spec, base, tours, matrix_budget_bytes)
    budget_s = spec.budget_s
    if deadline is not None:
        budget_s = max(0.0, min(budget_s, deadline - time.time()))
    try:
        result = _run(problem, spec, base, tours, budget_s)
    except Exception:  # algorithmic trouble must not fail a job: keep what we had
        log.warning("unit %s (%s) failed; returning its base", spec.unit_id, spec.kind,
                    exc_info=True)
        result = unchanged_result(problem, spec, base, tours)
    result.elapsed_s = time.monotonic() - started
    if on_progress is not None:
        on_progress(result.summary())
    return result


def apply_results(
    problem: Problem, base_tour: np.ndarray, results: Sequence[UnitResult], *,
    elite: Sequence[np.ndarray] = (), merge: bool = True,
) -> np.ndarray:
    """The best tour from the base and a round's results; never longer than the base.

    Segment and region results are spliced into the base (each only where it still applies and
    is shorter; overlapping ones by largest gain); exact/island/union results compete as whole
    tours and, with ``merge``, are merged with the base and the ``elite`` pool by partition
    crossover (``merge.merge_tours``), so the round can beat its best unit. ``merge=False``
    keeps the shortest tour as it is (to measure what merging adds). Invalid tours are skipped.
    """
    base = problem.validate_tour(base_tour)
    pieces = [
        np.concatenate([[SEPARATOR], r.tour]) if r.kind == "segment" else np.asarray(r.tour)
        for r in results
        if r.kind in PIECE_KINDS
    ]
    candidates = [splice(problem, base, pieces)] if pieces else []
    candidates += [r.tour for r in results if r.kind not in PIECE_KINDS]
    best, best_length = base, problem.tour_length(base)
    valid = [base]
    for tour in candidates:
        try:
            tour = problem.validate_tour(tour)
        except Exception:
            log.warning("skipping an invalid tour in a round's results")
            continue
        valid.append(tour)
        length = problem.tour_length(tour)
        if length < best_length:
            best, best_length = tour, length
    if merge and any(r.kind not in PIECE_KINDS for r in results):
        best = merge_tours(problem, valid + update_elite(problem, elite, ()))
    return best


def default_polish_s(n: int) -> float:
    """Seconds of 2-opt/Or-opt after greedy: enough to converge on pla33810 (~17 s here),
    capped so the initial tour stays far inside a Celery task's time limit."""
    return min(POLISH_S_PER_NODE * n, MAX_POLISH_S)


def partition_part_nodes(n: int, matrix_budget_bytes: int, partition_s: float) -> int:
    """The largest part of a partition first tour, or 0 when ``partition_s`` is too short for
    one (PARTITION_MIN_S_PER_NODE) or the budget fits no useful part."""
    part_nodes = max_matrix_nodes(matrix_budget_bytes)
    if part_nodes < PARTITION_MIN_PART_NODES or partition_s < PARTITION_MIN_S_PER_NODE * n:
        return 0
    return part_nodes


def initial_tour(
    problem: Problem,
    seed: int = 0,
    *,
    matrix_budget_bytes: int = DEFAULT_MATRIX_BUDGET_BYTES,
    polish_s: float | None = None,
    partition_s: float = 0.0,
    threads: int = 1,
    on_part: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """A first tour for a problem beyond the matrix budget, then exact 2-opt/Or-opt.

    With ``partition_s`` seconds to spare (see ``partition_part_nodes``) and coordinates: a
    spatial partition into parts that fit ``matrix_budget_bytes``, each solved by fast-tsp with
    ``threads`` threads, joined (``partition``; ``on_part(done, total)`` follows the parts);
    pla33810 in 12 s: 0.95 % above the optimum.
    Otherwise greedy edge over nearest-neighbour candidates, O(n log n), no matrix at all.
    Deterministic per seed when nothing runs out of time.
    """
    part_nodes = partition_part_nodes(problem.n, matrix_budget_bytes, partition_s)
    if problem.coords is not None and part_nodes:
        tour = partition_tour(problem, part_nodes, partition_s, seed, threads, on_part)
    else:
        tour = greedy_tour(problem, seed)
    return polished(problem, tour, polish_s)


def polished(problem: Problem, tour: np.ndarray, polish_s: float | None = None) -> np.ndarray:
    """A first tour after exact 2-opt/Or-opt: it removes the long joins greedy leaves behind
    and the seams of a partition, which decomposition cannot (pla33810: greedy 17.3 % ->
    polished 6.1 % in 17 s; a partition tour gains 0.04 points in 2 s). ``polish_s``: None for
    ``default_polish_s(n)``, 0 for none."""
    budget = default_polish_s(problem.n) if polish_s is None else polish_s
    if budget > 0:
        tour = polish(problem, tour, budget)
    return problem.validate_tour(tour)
