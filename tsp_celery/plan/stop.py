"""Stopping criteria (PyVRP style), one protocol for the embedded loop, the cluster and the API.

A criterion reads a ``SearchState`` (the same snapshot on both paths, rebuilt from Redis in the
cluster) and is plain data: ``to_dict``/``from_dict`` is how a job record stores it.
Combine with ``|``: ``MaxRuntime(30) | TargetLength(7542) | NoImprovement(rounds=5)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SearchState:
    """What a criterion reads after a round: seconds since the job started, the best length
    (inf before any tour) and how many closed rounds in a row found nothing shorter."""

    elapsed_s: float
    best_length: float = math.inf
    stall_rounds: int = 0


class StoppingCriterion:
    """Base of the criteria: ``reason(state)`` says why to stop (None: go on)."""

    def reason(self, state: SearchState) -> str | None:
        raise NotImplementedError

    def __call__(self, state: SearchState) -> bool:
        return self.reason(state) is not None

    def __or__(self, other: StoppingCriterion) -> AnyOf:
        return AnyOf([self, other])

    def members(self) -> list[StoppingCriterion]:
        return [self]

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def time_limit(self) -> float | None:
        """The shortest MaxRuntime among its members (None: none): the job's time budget."""
        limits = [m.max_runtime for m in self.members() if isinstance(m, MaxRuntime)]
        return min(limits, default=None)

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> StoppingCriterion:
        """Inverse of ``to_dict``: {"max_runtime": s, "target": x, "no_improvement": rounds}."""
        found: list[StoppingCriterion] = []
        if d.get("max_runtime") is not None:
            found.append(MaxRuntime(float(d["max_runtime"])))
        if d.get("target") is not None:
            found.append(TargetLength(float(d["target"])))
        if d.get("no_improvement") is not None:
            found.append(NoImprovement(int(d["no_improvement"])))
        return found[0] if len(found) == 1 else AnyOf(found)


@dataclass(frozen=True)
class MaxRuntime(StoppingCriterion):
    """Stops once ``max_runtime`` seconds have passed since the job started."""

    max_runtime: float

    def __post_init__(self) -> None:
        if not self.max_runtime >= 0:
            raise ValueError("Expected max_runtime >= 0.")

    def reason(self, state: SearchState) -> str | None:
        return "time budget used" if state.elapsed_s >= self.max_runtime else None

    def to_dict(self) -> dict[str, Any]:
        return {"max_runtime": self.max_runtime}


@dataclass(frozen=True)
class TargetLength(StoppingCriterion):
    """Stops once the best tour is at most ``target`` long (a known optimum, or a proven bound)."""

    target: float

    def reason(self, state: SearchState) -> str | None:
        return "target reached" if state.best_length <= self.target else None

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target}


@dataclass(frozen=True)
class NoImprovement(StoppingCriterion):
    """Stops after ``rounds`` closed rounds in a row without a shorter tour."""

    rounds: int

    def __post_init__(self) -> None:
        if self.rounds < 1:
            raise ValueError("Expected rounds >= 1.")

    def reason(self, state: SearchState) -> str | None:
        if state.stall_rounds >= self.rounds:
            return f"no improvement in {self.rounds} rounds"
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"no_improvement": self.rounds}


class AnyOf(StoppingCriterion):
    """Stops when any member does (the first member's reason wins)."""

    def __init__(self, criteria: Iterable[StoppingCriterion]):
        self.criteria = [m for c in criteria for m in c.members()]
        if not self.criteria:
            raise ValueError("Expected at least one stopping criterion.")

    def reason(self, state: SearchState) -> str | None:
        return next((r for c in self.criteria if (r := c.reason(state)) is not None), None)

    def members(self) -> list[StoppingCriterion]:
        return list(self.criteria)

    def to_dict(self) -> dict[str, Any]:
        """Members as one dict; of two criteria of a kind, the one that fires first is kept."""
        out: dict[str, Any] = {}
        for member in self.criteria:
            for key, value in member.to_dict().items():
                out[key] = value if key not in out else (
                    max(out[key], value) if key == "target" else min(out[key], value))
        return out

    def __repr__(self) -> str:
        return " | ".join(map(repr, self.criteria))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AnyOf) and self.criteria == other.criteria

    __hash__ = None  # type: ignore[assignment]
