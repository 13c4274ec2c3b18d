"""Which cut families run on an LP solution, and in what order.

Cheapest first: subtours of the components, the blossom heuristics, exact subtours; combs
(``solver.combs``, ``solver.tighten``) and exact blossoms only at the root, whose cuts every
node of the search shares (at the others they cost more time than their bound repays).
"""

from __future__ import annotations

import math

import numpy as np

from tsp_celery.solver.combs import comb_cuts
from tsp_celery.solver.cuts import (
    Cut,
    blossom_cuts,
    component_cuts,
    exact_blossom_cuts,
    min_cut_cuts,
)
from tsp_celery.solver.tighten import tightened_cuts


def separate(
    n: int,
    u: np.ndarray,
    v: np.ndarray,
    x: np.ndarray,
    *,
    root: bool = False,
    pool: list[Cut] | None = None,
    deadline: float = math.inf,
) -> list[Cut]:
    """Components, then blossom heuristics, then exact subtours (so an empty answer before
    ``deadline`` means x satisfies every subtour cut). At the ``root``, whose cuts every node
    shares, the heuristics add combs and the tightened combs of ``pool`` (the LP's cuts), and
    exact blossoms (on the support graph and with its 1-paths shrunk) come last."""
    cuts = component_cuts(n, u, v, x)
    if not cuts:
        cuts = blossom_cuts(n, u, v, x)
        if root:
            cuts += comb_cuts(n, u, v, x) + tightened_cuts(pool or [], n, u, v, x)
    cuts = cuts or min_cut_cuts(n, u, v, x, deadline)
    if cuts or not root:
        return cuts
    return exact_blossom_cuts(n, u, v, x, deadline) + comb_cuts(
        n, u, v, x, exact=True, deadline=deadline
    )
