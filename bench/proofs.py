#!/usr/bin/env python
"""Proof table: instance, n, optimum, bound, the bound's own gap below the optimum, whether it
proves the optimum, seconds.

``--method held-karp`` is the 1-tree bound alone (before branch-and-cut), ``--method certify``
the bound the solvers run now (solver.certify: Held-Karp, then branch-and-cut). A bound
proves the optimum when it reaches it: every tour of that length is then optimal. Instances
are the TSPLIB files in tests/data and ../shared/tsplib (when present) with a known optimum.

    python bench/proofs.py --max-n 200 --budget 10                     # after
    python bench/proofs.py --max-n 200 --budget 10 --method held-karp   # before
    python bench/proofs.py --min-n 201 --max-n 1000 --budget 60
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from tsp_celery.problem import known_optimum, load_problem
from tsp_celery.solver.certify import certified_bound
from tsp_celery.solver.held_karp import held_karp_bound

REPO = Path(__file__).resolve().parent.parent
FOLDERS = (REPO / "tests" / "data", REPO.parent / "shared" / "tsplib")


def instances(names: set[str] | None, min_n: int, max_n: int) -> list[tuple[int, str, Path]]:
    """(n, name, path) of every TSPLIB file with a known optimum in range, smallest first."""
    found: dict[str, tuple[int, str, Path]] = {}
    for folder in FOLDERS:
        for path in sorted(folder.glob("*.tsp")) if folder.is_dir() else []:
            if path.stem in found or (names and path.stem not in names):
                continue
            n = load_problem(path).n
            if min_n <= n <= max_n and known_optimum(path.stem, n) is not None:
                found[path.stem] = (n, path.stem, path)
    return sorted(found.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=10.0, help="seconds per instance")
    ap.add_argument("--min-n", type=int, default=5)
    ap.add_argument("--max-n", type=int, default=200)
    ap.add_argument("--method", choices=("certify", "held-karp"), default="certify")
    ap.add_argument("--instances", help="comma-separated names (default: all)")
    args = ap.parse_args()
    names = set(args.instances.split(",")) if args.instances else None
    bound = certified_bound if args.method == "certify" else held_karp_bound
    print(f"{args.method} bound, budget {args.budget:g} s per instance")
    print("| instance | n | optimum | bound | bound gap % | proven optimal | seconds |")
    print("|---|---|---|---|---|---|---|")
    proven, gaps = 0, []
    for n, name, path in instances(names, args.min_n, args.max_n):
        problem = load_problem(path)
        opt = known_optimum(name, n)
        start = time.monotonic()
        lb = bound(problem, args.budget)
        seconds = time.monotonic() - start
        gap = 100.0 * (opt - lb.value) / opt
        ok = lb.proven and lb.value >= opt
        proven += ok
        gaps.append(gap)
        print(f"| {name} | {n} | {opt} | {lb.value:.0f} | {gap:.3f} | "
              f"{'yes' if ok else 'no'} | {seconds:.1f} |", flush=True)
    if gaps:
        print(f"proven optimal: {proven} of {len(gaps)}; mean bound gap "
              f"{sum(gaps) / len(gaps):.3f} %, largest {max(gaps):.3f} %")


if __name__ == "__main__":
    main()
