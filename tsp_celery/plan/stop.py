"""Stopping criteria as small callables (PyVRP style): ``criterion(best_length) -> bool``.

The embedded loop and the coordinator call the job's criterion after every round with the best
length so far; the first criterion that says True ends the job.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

StoppingCriterion = Callable[[float], bool]


class MaxRuntime:
    """Stops once ``max_runtime`` seconds have passed since construction."""

    def __init__(self, max_runtime: float, clock: Callable[[], float] = time.monotonic):
        if max_runtime < 0:
            raise ValueError("Expected max_runtime >= 0.")
        self.max_runtime = max_runtime
        self._clock = clock
        self._start = clock()

    def elapsed(self) -> float:
        return self._clock() - self._start

    def remaining(self) -> float:
        """Seconds left; the planner sizes the next round with it."""
        return max(0.0, self.max_runtime - self.elapsed())

    def __call__(self, best_length: float) -> bool:
        return self.elapsed() >= self.max_runtime


class TargetLength:
    """Stops once the best tour is at most ``target`` long (a known optimum, or a proven bound)."""

    def __init__(self, target: float):
        self.target = target

    def __call__(self, best_length: float) -> bool:
        return best_length <= self.target


class NoImprovement:
    """Stops after ``max_rounds`` consecutive calls without a shorter best length."""

    def __init__(self, max_rounds: int):
        if max_rounds < 1:
            raise ValueError("Expected max_rounds >= 1.")
        self.max_rounds = max_rounds
        self._best = float("inf")
        self._stale = 0

    def __call__(self, best_length: float) -> bool:
        if best_length < self._best:
            self._best, self._stale = best_length, 0
        else:
            self._stale += 1
        return self._stale >= self.max_rounds


class MultipleCriteria:
    """Stops when any of its criteria says so; every criterion is called each time (they count)."""

    def __init__(self, criteria: Sequence[StoppingCriterion]):
        if not criteria:
            raise ValueError("Expected at least one stopping criterion.")
        self.criteria = list(criteria)

    def __call__(self, best_length: float) -> bool:
        return any([criterion(best_length) for criterion in self.criteria])
