#!/usr/bin/env python
"""Quality benchmark: tour gap to the proven optimum per time budget, ours against other solvers.

For each instance and budget, every solver runs in its own subprocess while this process samples
the resident memory of that subprocess and all its children (psutil), so "peak MB" is the whole
process tree. Solvers:
- ours:     tsp_celery.solve with --workers processes (embedded engine);
- fast-tsp: fast_tsp.find_tour alone on the full uint16 matrix, max_threads = --workers
            ("cannot run" when the matrix would not fit in the memory available); it has no
            seed, so each run gets the nodes in a seeded random order (as our units do);
- ortools, pyvrp, elkai: when importable (pip install 'tsp-celery[bench]'); elkai is LKH-3
  (licensed for non-commercial use only, so a yardstick here, never a dependency of the solver),
  run with one thread and the budget as LKH's own time limit.

    python bench/quality.py                          # ../shared/tsplib (or examples/), 1,10,60 s
    python bench/quality.py --instances pr2392,pcb3038 --budgets 60
    python bench/quality.py --quick                  # smoke run: 1 s, small instances
    python bench/quality.py --instances pcb3038 --budgets 30 --repeats 3 --solvers ours,fast-tsp

Single runs at 3,000+ nodes spread by ±0.05-0.1 points for every solver: compare with --repeats,
which adds a summary table (mean, min and max gap over the runs, seeds --seed, --seed + 1, ...).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "tsplib"
SOLVERS = ("ours", "fast-tsp", "ortools", "pyvrp", "elkai")
OPTIONAL = {"ortools": "ortools", "pyvrp": "pyvrp", "elkai": "elkai"}
# Solvers whose model we build from a Python-side full matrix stop being sensible beyond this.
LIBRARY_MAX_N = {"ortools": 5000, "pyvrp": 5000}
# LKH's alpha candidates cost O(n²) before the search starts; past this it takes POPMUSIC
# candidates and a short ascent instead, as LKH's documentation advises for large instances.
LKH_POPMUSIC_MIN_N = 5000


# -- one solver run, inside the child process ------------------------------------------------
def _full_matrix(problem):
    return problem.submatrix()


def run_ours(problem, budget, workers, seed):
    from tsp_celery import solve

    r = solve(problem, time=budget, workers=workers, seed=seed)
    # The solver's own clock: the package import (scipy) is not part of the budget.
    return r.tour, {"time": round(r.elapsed, 2), "time_to_best": round(r.time_to_best, 2),
                    "proven": r.proven_optimal}


def run_fast_tsp(problem, budget, workers, seed):
    import fast_tsp
    import psutil

    from tsp_celery.solver.matrix import compact_matrix

    need = 4 * problem.n**2  # our uint16 matrix + fast-tsp's own uint16 copy
    free = psutil.virtual_memory().available
    if need > 0.8 * free:
        return None, {"note": f"cannot run: full matrix needs {need / 2**30:.1f} GiB, "
                              f"{free / 2**30:.1f} GiB available"}
    import numpy as np

    t0 = time.monotonic()
    order = np.random.default_rng(seed).permutation(problem.n)
    matrix, _ = compact_matrix(problem, order)
    left = max(0.1, budget - (time.monotonic() - t0))
    return order[fast_tsp.find_tour(matrix, left, max_threads=workers)], {}


def run_ortools(problem, budget, workers, seed):
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    m = _full_matrix(problem)
    manager = pywrapcp.RoutingIndexManager(problem.n, 1, 0)
    routing = pywrapcp.RoutingModel(manager)
    transit = routing.RegisterTransitMatrix(m.astype(int).tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(transit)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH)
    params.time_limit.FromMilliseconds(int(budget * 1000))
    sol = routing.SolveWithParameters(params)
    if sol is None:
        return None, {"note": "no solution"}
    index, tour = routing.Start(0), []
    while not routing.IsEnd(index):
        tour.append(manager.IndexToNode(index))
        index = sol.Value(routing.NextVar(index))
    return tour, {}


def run_pyvrp(problem, budget, workers, seed):
    import numpy as np
    from pyvrp import Client, Depot, Location, ProblemData, VehicleType, solve
    from pyvrp.stop import MaxRuntime

    xy = problem.plot_coords if problem.plot_coords is not None else np.zeros((problem.n, 2))
    m = _full_matrix(problem).astype(np.int64)
    data = ProblemData(
        locations=[Location(float(x), float(y)) for x, y in xy],
        clients=[Client(location=i) for i in range(1, problem.n)],
        depots=[Depot(location=0)], vehicle_types=[VehicleType(num_available=1)],
        distance_matrices=[m], duration_matrices=[np.zeros_like(m)],
    )
    res = solve(data, stop=MaxRuntime(budget), seed=seed, display=False)
    visits = [a.idx for a in res.best.routes()[0].schedule() if a.is_client()]
    return [0, *(data.clients()[i].location for i in visits)], {}


def run_elkai(problem, budget, workers, seed):
    """LKH-3 as elkai builds it, one thread, on the same wall clock. elkai's public API has no
    time limit, so this hands LKH its own parameter file through the function behind that API."""
    from elkai import _elkai

    from tsp_celery.problem.tsplib import format_tsplib

    params = {"PROBLEM_FILE": ":stdin:", "RUNS": 1, "SEED": seed + 1, "TRACE_LEVEL": 0,
              "TOTAL_TIME_LIMIT": budget}
    if problem.n >= LKH_POPMUSIC_MIN_N:
        params |= {"CANDIDATE_SET_TYPE": "POPMUSIC", "INITIAL_PERIOD": 100}
    text = "".join(f"{key} = {value}\n" for key, value in params.items())
    # elkai's in-memory reader crashes on display data (bays29): the problem without it.
    head = format_tsplib(problem).split("DISPLAY_DATA_SECTION")[0].splitlines()
    kept = [line for line in head if not line.startswith(("DISPLAY_DATA_TYPE", "EOF"))]
    tour = _elkai.solve_problem(text, "\n".join([*kept, "EOF", ""]))
    return [i - 1 for i in tour], {"note": "LKH-3, 1 thread"}


RUNNERS = {"ours": run_ours, "fast-tsp": run_fast_tsp, "ortools": run_ortools,
           "pyvrp": run_pyvrp, "elkai": run_elkai}


def child(solver: str, path: str, budget: float, workers: int, seed: int) -> None:
    from tsp_celery.problem import load_problem

    problem = load_problem(path)
    t0 = time.monotonic()
    tour, extra = RUNNERS[solver](problem, budget, workers, seed)
    out = {"time": round(time.monotonic() - t0, 2), **extra}
    if tour is not None:
        out["length"] = problem.tour_length(problem.validate_tour(tour))
    print(json.dumps(out))


# -- the parent: choose, run with memory sampling, print --------------------------------------
def measure(solver, path, budget, workers, seed, timeout):
    import psutil

    cmd = [sys.executable, __file__, "--child", solver, str(path), str(budget), str(workers),
           str(seed)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak, deadline = 0, time.monotonic() + timeout
    try:
        root = psutil.Process(proc.pid)
        while proc.poll() is None and time.monotonic() < deadline:
            peak = max(peak, _tree_rss(root))
            time.sleep(0.05)
    except psutil.NoSuchProcess:
        pass
    if proc.poll() is None:
        proc.kill()
        proc.communicate()
        return {"note": f"timed out after {timeout:.0f} s", "peak_mb": peak / 2**20}
    out, err = proc.communicate()
    try:
        row = json.loads(out.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        last = (err.strip().splitlines() or ["no output"])[-1]
        row = {"note": f"failed: {last[:80]}"}
    row["peak_mb"] = peak / 2**20
    return row


def _tree_rss(root) -> int:
    import psutil

    total = 0
    for p in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def read_optima(folder: Path) -> dict[str, float]:
    f = folder / "optima.txt"
    if not f.exists():
        return {}
    pairs = (line.split(":") for line in f.read_text().splitlines() if ":" in line)
    return {k.strip(): float(v) for k, v in pairs}


def choose_instances(args) -> list[tuple[str, Path, int, float | None]]:
    from tsp_celery.problem import known_optimum, load_problem

    folder = Path(args.dir) if args.dir else (SHARED if SHARED.is_dir() else REPO / "examples")
    optima = read_optima(folder)
    wanted = set(args.instances.split(",")) if args.instances else None
    chosen = []
    for path in sorted(folder.glob("*.tsp")):
        if wanted is not None and path.stem not in wanted:
            continue
        problem = load_problem(path)
        if not args.min_n <= problem.n <= args.max_n:
            continue
        opt = optima.get(path.stem) or known_optimum(problem.name, problem.n)
        chosen.append((path.stem, path, problem.n, opt))
    missing = (wanted or set()) - {name for name, *_ in chosen}
    if missing:
        sys.exit(f"error: not found (or outside --min-n/--max-n) in {folder}: "
                 f"{', '.join(sorted(missing))}")
    return sorted(chosen, key=lambda c: c[2])


def available(solvers: list[str]) -> list[str]:
    keep = []
    for s in solvers:
        if s in OPTIONAL and importlib.util.find_spec(OPTIONAL[s]) is None:
            print(f"# {s}: not installed (pip install 'tsp-celery[bench]'), skipped",
                  file=sys.stderr)
            continue
        keep.append(s)
    return keep


def fmt_row(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", help="folder of .tsp files (+ optima.txt)")
    ap.add_argument("--instances", help="comma-separated names, e.g. berlin52,pr1002")
    ap.add_argument("--min-n", type=int, default=0)
    ap.add_argument("--max-n", type=int, default=None)
    ap.add_argument("--budgets", default="1,10,60", help="seconds, comma-separated")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=1,
                    help="runs per solver, instance and budget (seeds --seed, --seed + 1, ...)")
    ap.add_argument("--solvers", default=",".join(SOLVERS))
    ap.add_argument("--json", action="store_true", help="also print every row as JSON lines")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 1 s budget, instances up to 100 nodes unless chosen")
    args = ap.parse_args(argv)
    if args.quick:
        args.budgets = "1"
        if args.max_n is None and not args.instances:
            args.max_n = 100
    args.max_n = args.max_n or 10**9
    budgets = [float(b) for b in args.budgets.split(",")]
    solvers = available([s for s in args.solvers.split(",") if s])
    unknown = set(solvers) - set(SOLVERS)
    if unknown:
        sys.exit(f"error: unknown solver(s) {', '.join(sorted(unknown))}; known: {SOLVERS}")
    header = ["instance", "n", "optimum", "budget s", "solver", "length", "gap %", "time s",
              "peak MB", "note"]
    print(fmt_row(header))
    print(fmt_row(["---"] * len(header)))
    gaps: dict[tuple, list[float]] = {}
    for name, path, n, opt in choose_instances(args):
        for budget in budgets:
            for solver in solvers:
                for run in range(args.repeats):
                    row = run_row(solver, path, n, budget, args.workers, args.seed + run)
                    length = row.get("length")
                    if length is not None and opt:
                        gaps.setdefault((name, n, budget, solver), []).append(
                            100 * (length - opt) / opt)
                    print_row(name, n, opt, budget, solver, row)
                    if args.json:
                        print(json.dumps({"instance": name, "n": n, "optimum": opt,
                                          "budget": budget, "solver": solver,
                                          "seed": args.seed + run, **row}), flush=True)
    if args.repeats > 1:
        print_summary(gaps)


def run_row(solver: str, path: Path, n: int, budget: float, workers: int, seed: int) -> dict:
    if n > LIBRARY_MAX_N.get(solver, n):
        return {"note": f"skipped: n > {LIBRARY_MAX_N[solver]}"}
    return measure(solver, path, budget, workers, seed, 3 * budget + 60)


def print_row(name: str, n: int, opt: float | None, budget: float, solver: str,
              row: dict) -> None:
    length = row.get("length")
    gap = "" if length is None or not opt else f"{100 * (length - opt) / opt:.3f}"
    note = row.get("note", "")
    if "time_to_best" in row:
        note = (note + f" best at {row['time_to_best']} s"
                + (", proven optimal" if row.get("proven") else "")).strip()
    peak = f"{row['peak_mb']:.0f}" if row.get("peak_mb") else ""
    print(fmt_row([name, n, f"{opt:g}" if opt else "", f"{budget:g}", solver,
                   length if length is not None else "", gap, row.get("time", ""), peak,
                   note]), flush=True)


def print_summary(gaps: dict[tuple, list[float]]) -> None:
    """Mean, min and max gap per instance, budget and solver over the repeated runs."""
    header = ["instance", "n", "budget s", "solver", "runs", "mean gap %", "min %", "max %"]
    print()
    print(fmt_row(header))
    print(fmt_row(["---"] * len(header)))
    for (name, n, budget, solver), values in gaps.items():
        print(fmt_row([name, n, f"{budget:g}", solver, len(values),
                       f"{sum(values) / len(values):.3f}", f"{min(values):.3f}",
                       f"{max(values):.3f}"]), flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
    else:
        main()
