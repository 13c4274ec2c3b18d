"""The one result object every entry point returns: embedded solve, cluster job, Python API."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tsp_celery.lengths import bound_text, length_text, plain_number
from tsp_celery.problem.textfile import write_text
from tsp_celery.problem.tour_io import format_tour

if TYPE_CHECKING:
    from tsp_celery.problem import Problem


@dataclass
class Result:
    """A solved tour with what a user needs to trust and reuse it.

    ``trace`` holds (seconds since start, best length) at every improvement. ``lower_bound`` and
    ``gap_bound_pct`` bound how far the tour can be from optimal when ``lower_bound_proven``
    (otherwise the bound is an estimate); ``optimum``/``gap_pct`` are filled when the user
    passed a known optimum (``target``).
    """

    tour: list[int]
    length: float
    proven_optimal: bool = False
    time_to_best: float = 0.0
    elapsed: float = 0.0
    engine: str = ""
    seed: int | None = None
    trace: list[tuple[float, float]] = field(default_factory=list)
    lower_bound: float | None = None
    gap_bound_pct: float | None = None
    lower_bound_proven: bool = False
    optimum: float | None = None
    name: str = ""
    stats: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tour = [int(v) for v in np.asarray(self.tour).tolist()]
        self.trace = [(float(t), float(v)) for t, v in self.trace]
        if self.lower_bound is not None and self.gap_bound_pct is None and self.lower_bound > 0:
            self.gap_bound_pct = 100.0 * (self.length - self.lower_bound) / self.lower_bound

    @property
    def gap_pct(self) -> float | None:
        """Gap to the known optimum in percent, when one was given."""
        if not self.optimum:
            return None
        return 100.0 * (self.length - self.optimum) / self.optimum

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with stable keys (``--json`` output and the cluster's result)."""
        d = asdict(self)
        d["trace"] = [list(p) for p in self.trace]
        d["gap_pct"] = self.gap_pct
        if float(self.length).is_integer():
            d["length"] = int(self.length)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Result:
        """Inverse of ``to_dict``; unknown keys are ignored so old clients read new results."""
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in names})

    def to_json(self, **kwargs: Any) -> str:
        """JSON text of ``to_dict``."""
        return json.dumps(self.to_dict(), **kwargs)

    def to_tsplib(self, path: str | os.PathLike[str] | None = None) -> str:
        """The tour as TSPLIB ``.tour`` text (1-based ids); also written to ``path`` when given."""
        text = format_tour(np.asarray(self.tour), self.name or "tour", plain_number(self.length))
        if path is not None:
            write_text(path, text)
        return text

    def plot(self, problem: Problem, path: str | os.PathLike[str]) -> Path:
        """Draw the tour over ``problem``'s points into a .png or .svg file (needs matplotlib)."""
        from tsp_celery.plot import plot_tour

        return plot_tour(self, problem, path)

    def summary(self) -> str:
        """One human line: length, proof or gaps, time to best."""
        parts = [f"{self.name or 'tour'}: length {length_text(self.length)}"]
        if self.proven_optimal:
            parts.append("proven optimal")
        if self.gap_pct is not None:
            parts.append(f"gap {self.gap_pct:.3f}% to optimum {length_text(self.optimum)}")
        if self.gap_bound_pct is not None and self.lower_bound is not None:
            bound = bound_text(self.lower_bound, self.lower_bound_proven, self.length)
            if self.lower_bound_proven:  # only a proof bounds the distance to the optimum
                parts.append(f"at most {self.gap_bound_pct:.3f}% above optimal ({bound})")
            else:
                parts.append(f"{self.gap_bound_pct:.3f}% above {bound} (not proven)")
        parts.append(f"best after {self.time_to_best:.2f}s of {self.elapsed:.2f}s")
        return ", ".join(parts)
