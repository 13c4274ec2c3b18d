#!/usr/bin/env python
"""Large-instance benchmark: our tour against a Held–Karp estimate, with the process tree's memory.

For instances beyond any known optimum (generated ones, e.g. 85,900 uniform or clustered
cities), the yardstick is the Held–Karp bound over the sparse candidate graph
(``tsp_celery.solver.held_karp``, an estimate, not a proof), computed here in this process before
the solve and not counted in its time. The solve runs in its own subprocess (as in
``quality.py``), sampled for the resident memory of it and all its children.

    python bench/large.py --generate uniform:85900,clustered:85900 --time 600
    python bench/large.py --files ../shared/tsplib/pla33810.tsp --time 300
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality import fmt_row, measure  # a sibling script, not a package


def instances(args, folder: Path) -> list[tuple[str, Path]]:
    """(name, TSPLIB path) for every generated and given instance."""
    from tsp_celery.problem import generate, write_tsplib

    out = []
    for item in filter(None, (args.generate or "").split(",")):
        kind, n = item.split(":")
        problem = generate(kind, int(n), args.seed)
        path = folder / f"{problem.name}.tsp"
        write_tsplib(problem, path)
        out.append((problem.name, path))
    out += [(Path(f).stem, Path(f)) for f in filter(None, (args.files or "").split(","))]
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--generate", help="kind:n pairs, e.g. uniform:85900,clustered:85900")
    ap.add_argument("--files", help="comma-separated instance files")
    ap.add_argument("--time", type=float, default=600.0, help="solve budget, seconds")
    ap.add_argument("--bound-s", type=float, default=120.0, help="bound budget, seconds")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1, help="generator and solver seed")
    args = ap.parse_args(argv)
    from tsp_celery.problem import load_problem
    from tsp_celery.solver.held_karp import held_karp_bound

    header = ["instance", "n", "bound", "bound s", "bound method", "budget s", "length",
              "gap over bound %", "time s", "peak MB", "note"]
    print(fmt_row(header))
    print(fmt_row(["---"] * len(header)), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in instances(args, Path(tmp)):
            problem = load_problem(path)
            lb = held_karp_bound(problem, args.bound_s, sparse=True)
            row = measure("ours", path, args.time, args.workers, args.seed, 2 * args.time + 120)
            length = row.get("length")
            gap = "" if length is None else f"{100 * (length - lb.value) / lb.value:.3f}"
            print(fmt_row([name, problem.n, f"{lb.value:.0f}", f"{lb.elapsed_s:.1f}",
                           "estimate" if not lb.proven else "proven", f"{args.time:g}",
                           length if length is not None else "", gap, row.get("time", ""),
                           f"{row.get('peak_mb', 0):.0f}", row.get("note", "")]), flush=True)


if __name__ == "__main__":
    main()
