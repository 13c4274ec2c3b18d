"""The engine seam: every search kernel turns (matrix, budget, seed) into a closed tour.

Units, path sub-problems and tests talk to engines only through ``Engine`` and the registry, so
a new kernel is one class and one ``register_engine`` call.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from tsp_celery.solver.exact import ExactEngine
from tsp_celery.solver.fasttsp import FastTspEngine


@runtime_checkable
class Engine(Protocol):
    """A search kernel.

    ``solve`` returns a permutation of ``range(len(matrix))`` (the closing edge is implied) and
    returns within about ``budget_s`` wall seconds. ``proves_optimality`` says whether its tours
    are proven optimal. Engines that can search with several threads (fast-tsp) also take the
    keywords ``threads`` and ``until_converged``; units pass them only to multi-thread islands.
    """

    name: str
    proves_optimality: bool

    def solve(self, matrix: np.ndarray, budget_s: float, seed: int) -> np.ndarray: ...


_ENGINES: dict[str, Engine] = {}


def engine_tour(engine: Engine, matrix: np.ndarray, budget_s: float, seed: int,
                threads: int = 1, until_converged: bool = False) -> np.ndarray:
    """``engine``'s tour of ``matrix``, checked to be a permutation of its rows.

    Only multi-thread runs pass ``threads`` and ``until_converged`` (single-thread engines need
    not take them).
    """
    extra = {"threads": threads, "until_converged": until_converged} if threads > 1 else {}
    local = np.asarray(engine.solve(matrix, budget_s, seed, **extra), dtype=np.int64)
    if not np.array_equal(np.sort(local), np.arange(len(matrix))):
        raise ValueError(f"{engine.name} returned no tour of the {len(matrix)} nodes it was "
                         "given.")
    return local


def register_engine(engine: Engine) -> None:
    """Make ``engine`` available under ``engine.name`` (replacing one of the same name)."""
    if not isinstance(engine, Engine):
        raise TypeError(f"Expected an Engine, got {type(engine).__name__}.")
    _ENGINES[engine.name] = engine


def get_engine(name: str) -> Engine:
    """The registered engine called ``name``."""
    try:
        return _ENGINES[name]
    except KeyError:
        known = ", ".join(sorted(_ENGINES))
        raise ValueError(f"Unknown engine {name!r}; expected one of: {known}.") from None


def engine_names() -> list[str]:
    """Names of all registered engines, sorted."""
    return sorted(_ENGINES)


register_engine(ExactEngine())
register_engine(FastTspEngine())
