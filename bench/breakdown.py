#!/usr/bin/env python
"""Where an embedded solve's wall time goes: start-up, parse, pool, bound, each round's units
(matrix build, fast-tsp, union) and the gaps between them, merges.

The solve runs in this process (``tsp_celery.local.solve_local``) with timers wrapped around
its steps; the pool forks after the wrapping, so the unit processes time their own matrix
builds and kernel calls and append them to a shared file. Times are seconds from the solve's
start; "core-s" adds up CPU seconds over the processes.

    python bench/breakdown.py ../shared/tsplib/rl11849.tsp --time 60
    python bench/breakdown.py rl5934.tsp --time 10 --save after.json
    python bench/breakdown.py --table before=before.json after=after.json
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_T0 = time.monotonic()  # before the package import, to time it
_EVENTS = ""  # the file every process appends its events to


def _record(label: str, start: float, end: float, **extra: Any) -> None:
    """Append one timed step (monotonic start/end, this pid) to the events file."""
    with open(_EVENTS, "a") as f:
        f.write(json.dumps({"pid": os.getpid(), "label": label, "start": start, "end": end,
                            **extra}) + "\n")


def _timed(label: str, fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.monotonic()
        try:
            return fn(*args, **kwargs)
        finally:
            _record(label, start, time.monotonic())
    return wrapper


def _instrument() -> None:
    """Wrap the steps worth timing (before the pool forks, so its processes inherit them)."""
    import fast_tsp

    import tsp_celery.local as local
    import tsp_celery.local_workers as workers
    import tsp_celery.solver.fasttsp as fasttsp
    import tsp_celery.solver.partition as partition
    import tsp_celery.solver.units as units

    partition.compact_matrix = _timed("matrix", partition.compact_matrix)
    fasttsp.to_uint16 = _timed("to_uint16", fasttsp.to_uint16)
    fasttsp.fast_tsp = type("fast_tsp", (), {"find_tour": staticmethod(
        _timed("fast-tsp kernel", fast_tsp.find_tour))})
    units.union_tour = _timed("union", units.union_tour)
    # the whole-instance matrix a multi-thread job builds once (a no-op when already kept)
    for module in (local, units):
        if hasattr(module, "whole_matrix"):
            module.whole_matrix = _timed("whole matrix (kept)", module.whole_matrix)
    local._run_round = _timed("round (submit to last unit back)", local._run_round)
    local._apply = _timed("merge (apply_results)", local._apply)
    local.update_elite = _timed("elite update", local.update_elite)
    pool_init = workers.UnitPool.__init__
    wait_ready = workers.UnitPool.wait_ready
    workers.UnitPool.__init__ = _timed("pool start", pool_init)
    workers.UnitPool.wait_ready = _timed("pool warm-up wait", wait_ready)
    bound_main = workers._bound_main

    def timed_bound(*args: Any) -> None:
        start, cpu = time.monotonic(), time.process_time()
        try:
            bound_main(*args)
        finally:
            _record("bound process", start, time.monotonic(), cpu=time.process_time() - cpu)
    workers._bound_main = timed_bound


def breakdown(path: str, budget: float, workers: int, seed: int) -> dict[str, Any]:
    """Run one solve with the timers on; the steps, their totals and the idle share."""
    global _EVENTS
    import tsp_celery  # noqa: F401  (import time is part of a CLI user's wait)

    imported = time.monotonic()
    from tsp_celery.local import solve_local
    from tsp_celery.problem import load_problem

    start = time.monotonic()
    problem = load_problem(path)
    parsed = time.monotonic()
    fd, _EVENTS = tempfile.mkstemp(suffix=".jsonl")
    os.close(fd)
    _instrument()
    t0 = time.monotonic()
    result = solve_local(problem, budget, workers, seed)
    t1 = time.monotonic()
    events = [json.loads(line) for line in Path(_EVENTS).read_text().splitlines()]
    os.unlink(_EVENTS)
    for e in events:
        e["start"], e["end"] = round(e["start"] - t0, 3), round(e["end"] - t0, 3)
    totals: dict[str, float] = {}
    for e in events:
        totals[e["label"]] = round(totals.get(e["label"], 0.0) + e["end"] - e["start"], 3)
    searched = _covered([(e["start"], e["end"]) for e in events
                         if e["label"] in ("fast-tsp kernel", "union")])
    rounds = [e for e in events if e["label"].startswith("round")]
    between = sum(b["start"] - a["end"] for a, b in itertools.pairwise(rounds))
    bound = next((e for e in events if e["label"] == "bound process"), None)
    return {
        "instance": Path(path).stem, "n": problem.n, "budget_s": budget, "workers": workers,
        "import_s": round(imported - _T0, 3), "parse_s": round(parsed - start, 3),
        "solve_wall_s": round(t1 - t0, 3), "elapsed_s": round(result.elapsed, 3),
        "length": result.length, "rounds": result.stats["rounds"],
        "kinds": result.stats["kinds"], "totals_s": totals,
        "search_share": round(searched / (t1 - t0), 3),
        "first_round_starts_s": rounds[0]["start"] if rounds else None,
        "after_last_round_s": round((t1 - t0) - rounds[-1]["end"], 3) if rounds else None,
        "between_rounds_s": round(between, 3),
        "bound_wall_s": None if bound is None else round(bound["end"] - bound["start"], 3),
        "bound_cpu_s": None if bound is None else round(bound["cpu"], 3),
        "events": events,
    }


def _rows(b: dict[str, Any]) -> dict[str, Any]:
    """The table's rows of one breakdown, by label."""
    rows = {"package import (CLI only)": b["import_s"], "parse the instance": b["parse_s"],
            "solve, wall": b["solve_wall_s"],
            "until the first round starts": b["first_round_starts_s"],
            "gaps between rounds": b["between_rounds_s"],
            "after the last round (merge, close)": b["after_last_round_s"],
            "bound process, wall": b["bound_wall_s"], "bound process, CPU": b["bound_cpu_s"]}
    rows.update({f"{label} (sum over processes)": s for label, s in b["totals_s"].items()
                 if label != "bound process"})
    rows["share of the wall time with a search running"] = b["search_share"]
    rows["rounds"] = ", ".join(f"{k} {v}" for k, v in b["kinds"].items())
    rows["length"] = b["length"]
    return rows


def _covered(intervals: list[tuple[float, float]]) -> float:
    """Seconds covered by at least one of ``intervals``."""
    total, reach = 0.0, -float("inf")
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def print_table(runs: list[dict[str, Any]], names: list[str]) -> None:
    """One column of seconds per run (e.g. before and after a change), one row per step."""
    tables = [_rows(b) for b in runs]
    labels = list(dict.fromkeys(label for t in tables for label in t))
    b = runs[0]
    print(f"{b['instance']} (n = {b['n']}), --time {b['budget_s']:g}, {b['workers']} workers")
    print("| step | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for label in labels:
        cells = ["–" if t.get(label) is None else str(t[label]) for t in tables]
        print(f"| {label} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("path", nargs="?", help="a TSPLIB file")
    ap.add_argument("--time", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", help="also write the steps to this JSON file")
    ap.add_argument("--table", nargs="+", metavar="NAME=FILE",
                    help="print saved runs side by side instead of solving")
    args = ap.parse_args(argv)
    if args.table:
        pairs = [item.split("=", 1) for item in args.table]
        print_table([json.loads(Path(f).read_text()) for _, f in pairs], [n for n, _ in pairs])
        return
    if not args.path:
        ap.error("give a TSPLIB file, or --table")
    b = breakdown(args.path, args.time, args.workers, args.seed)
    print_table([b], ["seconds"])
    if args.save:
        Path(args.save).write_text(json.dumps(b))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
