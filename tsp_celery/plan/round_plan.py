"""What the planner reads (PlanInput) and what it hands out (RoundPlan): plain, JSON-able data.

The same two types travel between the embedded pool and the cluster coordinator, so a round that
a coordinator planned can be stored in Redis and replayed by its successor after a failover.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tsp_celery.settings import DEFAULT_MATRIX_BUDGET_MB
from tsp_celery.solver import KINDS, UnitSpec

DEFAULT_MATRIX_BUDGET_BYTES = DEFAULT_MATRIX_BUDGET_MB * 1024 * 1024


@dataclass(frozen=True)
class PlanInput:
    """Everything the planner may look at: size, capacity, time left and the round's history.

    ``slots`` counts live worker processes; ``active_jobs`` how many jobs share them.
    ``segment_offset`` is an extra rotation added to the planner's own per-round shift of the
    segment cut points (callers normally leave it at 0). ``threads_per_unit_allowed``: a unit may
    use several of the job's slots at once (the embedded pool, whose slots are this machine's
    cores); a cluster leaves it False, its units are sized one per worker process.
    ``pooled``: the caller keeps an elite pool of tours (merging on); ``pool_size`` tours are in
    it now, which union units merge. ``last_kind``: the kind of the round before ('' for none).
    """

    n: int
    slots: int
    remaining_s: float
    round_no: int
    seed: int
    active_jobs: int = 1
    has_tour: bool = False
    matrix_budget_bytes: int = DEFAULT_MATRIX_BUDGET_BYTES
    last_improved: bool = True
    segment_offset: int = 0
    threads_per_unit_allowed: bool = False
    pooled: bool = False
    pool_size: int = 0
    last_kind: str = ""

    def __post_init__(self) -> None:
        if self.n < 3:
            raise ValueError(f"Expected n >= 3, got {self.n}.")
        if self.slots < 1 or self.active_jobs < 1:
            raise ValueError("Expected slots >= 1 and active_jobs >= 1.")
        if self.round_no < 0:
            raise ValueError(f"Expected round_no >= 0, got {self.round_no}.")
        if self.matrix_budget_bytes <= 0:
            raise ValueError("Expected matrix_budget_bytes > 0.")
        if self.pool_size < 0 or (self.pool_size and not self.pooled):
            raise ValueError("Expected pool_size >= 0, and 0 unless pooled.")

    @property
    def share(self) -> int:
        """This job's fair share of the worker slots (at least one)."""
        return max(1, self.slots // self.active_jobs)


@dataclass(frozen=True)
class RoundPlan:
    """One round: its units and how long to wait for them before closing it with what arrived."""

    round_no: int
    kind: str
    units: tuple[UnitSpec, ...]
    deadline_s: float

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Expected kind in {KINDS}, got {self.kind!r}.")
        if not self.units:
            raise ValueError("Expected at least one unit in a round.")

    @property
    def budget_s(self) -> float:
        """The longest unit budget of the round."""
        return max(u.budget_s for u in self.units)

    def to_dict(self) -> dict[str, Any]:
        return {
            "round_no": self.round_no,
            "kind": self.kind,
            "units": [u.to_dict() for u in self.units],
            "deadline_s": self.deadline_s,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RoundPlan:
        return cls(
            round_no=int(d["round_no"]),
            kind=str(d["kind"]),
            units=tuple(UnitSpec.from_dict(u) for u in d["units"]),
            deadline_s=float(d["deadline_s"]),
        )
