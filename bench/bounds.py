#!/usr/bin/env python
"""Lower bound table: instance, n, optimum, bound, gap of the bound below the optimum,
whether it is proven, seconds.

``--method certify`` (the default) is the bound the solvers run (solver.certify: Held–Karp,
then the LP with cuts), ``--method held-karp`` the 1-tree ascent alone. Instances are the
TSPLIB files in ../shared/tsplib (examples/ when that folder is absent) up to --max-n nodes,
with the optima from optima.txt (or tsp_celery's known optima).

    python bench/bounds.py                                  # every instance up to 5,000 nodes
    python bench/bounds.py --budget 30 --instances pcb3038,fnl4461 --method held-karp
    python bench/bounds.py --max-n 300 --budget 2           # quick
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from quality import read_optima  # bench/quality.py, beside this script

from tsp_celery.problem import known_optimum, load_problem
from tsp_celery.solver.certify import certified_bound
from tsp_celery.solver.held_karp import held_karp_bound

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "tsplib"


def instances(names: list[str] | None, max_n: int) -> list[Path]:
    folder = SHARED if SHARED.is_dir() else REPO / "examples"
    paths = sorted(folder.glob("*.tsp"))
    if names:
        paths = [p for p in paths if p.stem in names]
    sized = [(load_problem(p).n, p) for p in paths]
    return [p for n, p in sorted(sized) if n <= max_n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=10.0, help="seconds per instance")
    ap.add_argument("--max-n", type=int, default=5000)
    ap.add_argument("--method", choices=("certify", "held-karp"), default="certify")
    ap.add_argument("--instances", help="comma-separated names (default: all)")
    args = ap.parse_args()
    known = read_optima(SHARED)
    bound = certified_bound if args.method == "certify" else held_karp_bound
    print(f"{args.method} bound, budget {args.budget:g} s per instance")
    print(f"{'instance':<11}{'n':>7}{'optimum':>12}{'bound':>14}{'gap %':>8}"
          f"{'proven':>8}{'seconds':>9}{'iters':>8}")
    gaps = []
    for path in instances(args.instances.split(",") if args.instances else None, args.max_n):
        problem = load_problem(path)
        opt = known.get(path.stem) or known_optimum(path.stem, problem.n)
        start = time.monotonic()
        lb = bound(problem, args.budget)
        seconds = time.monotonic() - start
        gap = 100.0 * (opt - lb.value) / opt if opt else float("nan")
        if opt:
            gaps.append(gap)
        print(f"{path.stem:<11}{problem.n:>7}{opt or float('nan'):>12.0f}{lb.value:>14.1f}"
              f"{gap:>8.3f}{'yes' if lb.proven else 'no':>8}{seconds:>9.2f}{lb.iterations:>8}",
              flush=True)
    if gaps:
        print(f"mean gap {sum(gaps) / len(gaps):.3f} %, worst {max(gaps):.3f} %, "
              f"{sum(g <= 1.0 for g in gaps)}/{len(gaps)} within 1 %")


if __name__ == "__main__":
    main()
