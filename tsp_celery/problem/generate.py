"""Random instances, seedable: uniform and clustered points with integer coordinates (EUC_2D).

The shapes follow the DIMACS TSP Challenge generators so that figures are comparable with the
literature: uniform points in a 1,000,000 square; clustered points around n/10 centres placed
uniformly in that square, each point a centre plus normal noise of standard deviation
1,000,000 / sqrt(n) per axis. The same (kind, n, seed) always gives the same instance.
"""

from __future__ import annotations

import numpy as np

from tsp_celery.problem.model import Problem

SIDE = 1_000_000
KINDS: tuple[str, ...] = ("uniform", "clustered")


def generate(kind: str, n: int, seed: int = 0) -> Problem:
    """A random EUC_2D instance named like ``uniform1000s1`` (kind, n, seed)."""
    if kind not in KINDS:
        raise ValueError(f"Expected kind in {KINDS}, got {kind!r}.")
    if n < 3:
        raise ValueError(f"Expected n >= 3 (a tour needs three nodes), got {n}.")
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        xy = rng.integers(0, SIDE, size=(n, 2))
    else:
        centres = rng.uniform(0, SIDE, size=(max(1, n // 10), 2))
        noise = rng.normal(0.0, SIDE / np.sqrt(n), size=(n, 2))
        xy = np.rint(centres[rng.integers(0, len(centres), size=n)] + noise)
    return Problem(
        name=f"{kind}{n}s{seed}",
        edge_weight_type="EUC_2D",
        coords=xy.astype(np.float64),
        comment=f"{kind} random instance, n = {n}, seed = {seed} (tsp-celery generate)",
    )
