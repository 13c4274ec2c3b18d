#!/usr/bin/env python
"""Tour merging benchmark: k independent fast-tsp runs, then partition crossover over the pool.

Per instance: the gap to the optimum of the best and the mean parent, of the merged child, and
the seconds the merge took. Parents are fast_tsp.find_tour on the full matrix with a short
budget each (its own randomness makes them differ). Instances come from ../shared/tsplib
(examples/ when absent).

    python bench/merge.py                                   # pcb3038, fnl4461; k=4, 2 s each
    python bench/merge.py --instances pr2392 --k 6 --budget 5
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import fast_tsp
import numpy as np

from tsp_celery.problem import known_optimum, load_problem
from tsp_celery.solver.crossover import merge_tours, partition_crossover

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "tsplib"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", default="pcb3038,fnl4461")
    ap.add_argument("--k", type=int, default=4, help="parents per instance")
    ap.add_argument("--budget", type=float, default=2.0, help="fast-tsp seconds per parent")
    args = ap.parse_args()
    folder = SHARED if SHARED.is_dir() else REPO / "examples"
    print(f"partition crossover of k={args.k} fast-tsp tours, {args.budget:g} s each")
    print(f"{'instance':<10}{'n':>7}{'best parent %':>15}{'mean parent %':>15}"
          f"{'pair child %':>14}{'merged %':>10}{'merge s':>9}")
    for name in args.instances.split(","):
        problem = load_problem(folder / f"{name}.tsp")
        opt = known_optimum(name, problem.n)
        matrix = problem.submatrix()
        parents = [np.asarray(fast_tsp.find_tour(matrix, args.budget)) for _ in range(args.k)]
        lengths = sorted(problem.tour_length(t) for t in parents)
        start = time.monotonic()
        merged = merge_tours(problem, parents)
        seconds = time.monotonic() - start
        pair = partition_crossover(problem, parents[0], parents[1])

        def gap(length: float, opt: float | None = opt) -> str:
            return f"{100 * (length - opt) / opt:.3f}" if opt else f"{length:.0f}"

        print(f"{name:<10}{problem.n:>7}{gap(lengths[0]):>15}{gap(float(np.mean(lengths))):>15}"
              f"{gap(problem.tour_length(pair)):>14}{gap(problem.tour_length(merged)):>10}"
              f"{seconds:>9.2f}", flush=True)


if __name__ == "__main__":
    main()
