"""The elite pool: the few best distinct tours a job has seen, kept for tour merging.

fast-tsp has no warm start, so every island run starts from scratch; what carries over between
rounds is the best tour and a handful of other good ones. Merging a new run with the whole pool
(``merge.merge_tours``) finds components where an older tour was better, which merging with the
best tour alone would have thrown away. Tours of equal length count as one (cheap, and a
false duplicate only costs a little diversity).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from tsp_celery.errors import TourError
from tsp_celery.problem import Problem

# Tours kept per job: merging cost grows with the pool (one crossover per member per pass).
ELITE_SIZE = 8


def update_elite(problem: Problem, elite: Iterable[np.ndarray], tours: Iterable[np.ndarray],
                 size: int = ELITE_SIZE) -> list[np.ndarray]:
    """The ``size`` shortest distinct valid tours among ``elite`` and ``tours``, shortest first.

    Invalid tours are dropped, so a bad unit result cannot poison the pool.
    """
    if size < 1:
        raise ValueError(f"Expected size >= 1, got {size}.")
    by_length: dict[float, np.ndarray] = {}
    for tour in [*elite, *tours]:
        try:
            tour = problem.validate_tour(tour)
        except TourError:
            continue
        by_length.setdefault(float(problem.tour_length(tour)), tour)
    return [by_length[k] for k in sorted(by_length)[:size]]
