"""Cluster benchmark: overhead, throughput and scaling of tsp-celery's cluster mode.

Starts its own Celery workers (prefork, one process each) and a coordinator on a private key
prefix of the given Redis, and removes them and their keys afterwards.

    python bench/cluster.py                                  # all three
    python bench/cluster.py --only overhead --overhead-jobs 20
    python bench/cluster.py --only scaling --workers 1,2 --merge on,off --repeats 3 \
        --scaling-time 60 --instances ../shared/tsplib/pcb3038.tsp,gen:uniform:13509:1

- overhead: submit -> result latency of berlin52 through the cluster (p50, p95) beside the
  embedded solve of the same instance, both stopping at the known optimum;
- throughput: many n=100 jobs (1 s budget, or one round without gain) submitted at once:
  jobs per second, and the share of worker-slot time spent inside units (solving);
- scaling: the gap reached at equal wall time (--scaling-time) per instance, with each worker
  count of --workers, tour merging on and off, and fast-tsp alone with 2 threads (bench/
  quality.py's run) and with --embedded-rows the embedded solve on as many workers, each
  --repeats times with seeds --seed, --seed + 1, ... The gap is to the
  optimum (optima.txt beside the file, or TSPLIB's) or else to a Held-Karp bound computed once
  per instance before the runs (the table says whether it is proven or an estimate).
  --instances takes .tsp paths and gen:KIND:N:SEED specs (tsp_celery.problem.generate).

Overhead and throughput use the largest count of --workers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import redis

from tsp_celery.cluster.client import ClusterClient
from tsp_celery.cluster.lease import read_leader
from tsp_celery.cluster.workers import live_workers
from tsp_celery.errors import TspCeleryError
from tsp_celery.local import solve_local
from tsp_celery.problem import Problem, generate, load_problem, write_tsplib
from tsp_celery.problem.optima import known_optimum
from tsp_celery.settings import Settings
from tsp_celery.solver.held_karp import held_karp_bound

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality import fmt_row, measure, read_optima  # a sibling script, not a package

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "tsplib"
# Issue #7's sizes: two TSPLIB instances and generated ones the size of rl5915 and usa13509.
SCALING_INSTANCES = (f"{SHARED / 'pcb3038.tsp'},{SHARED / 'fnl4461.tsp'},"
                     "gen:clustered:5915:1,gen:uniform:13509:1")
# fast-tsp alone is run with as many threads as the project machine has cores (issue #7).
FAST_TSP_THREADS = 2


class LocalCluster:
    """N single-process Celery workers and one coordinator on a private prefix."""

    def __init__(self, url: str, workers: int) -> None:
        self.prefix = f"bench{uuid.uuid4().hex[:6]}"
        self.env = {**os.environ, "TSP_CELERY_REDIS_URL": url, "TSP_CELERY_PREFIX": self.prefix,
                    "PYTHONUNBUFFERED": "1"}
        self.settings = Settings.from_env(self.env)
        self.redis = redis.Redis.from_url(url)
        self.client = ClusterClient(self.settings, redis=self.redis)
        self.workers = workers
        self.logdir = Path(tempfile.mkdtemp(prefix="tsp-bench-"))
        self.procs: list[subprocess.Popen] = []

    def _spawn(self, name: str, argv: list[str]) -> None:
        with open(self.logdir / f"{name}.log", "wb") as log:
            self.procs.append(subprocess.Popen(argv, env=self.env, stdout=log,
                                               stderr=subprocess.STDOUT,
                                               stdin=subprocess.DEVNULL,
                                               start_new_session=True))

    def __enter__(self) -> LocalCluster:
        for i in range(self.workers):
            self._spawn(f"w{i}", [sys.executable, "-m", "celery", "-A", "tasks", "worker",
                                  "-P", "prefork", "-c", "1", "-n", f"w{i}-{self.prefix}@%h",
                                  "-l", "warning", "--without-gossip", "--without-mingle"])
        self._spawn("coordinator", [sys.executable, "-m", "tsp_celery", "coordinator",
                                    "--node-id", f"c-{self.prefix}"])
        deadline = time.monotonic() + 90
        while (len(live_workers(self.redis, self.client.keys)) < self.workers
               or read_leader(self.redis, self.client.keys) is None):
            if time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"cluster did not start; logs in {self.logdir}")
            time.sleep(0.2)
        return self

    def __exit__(self, *_exc: object) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        keys = list(self.redis.scan_iter(match=f"{self.prefix}:*", count=1000))
        for i in range(0, len(keys), 500):
            self.redis.delete(*keys[i:i + 500])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def unit_seconds(client: ClusterClient, job_id: str) -> float:
    """Wall seconds spent inside the job's units (their own measurement)."""
    rounds = client.store.record(job_id).get("round", 0)
    return sum(float(rec.get("elapsed_s") or 0.0) for r in range(1, rounds + 1)
               for rec in client.store.unit_records(job_id, r).values())


# The path of a tiny job, as the event log stamps it (wall clock of the process that logged it).
PHASES = (("submit -> admitted", "submitted", "admitted"),
          ("admitted -> round planned", "admitted", "round_planned"),
          ("round planned -> first unit started", "round_planned", "unit_started"),
          ("first unit started -> last unit finished", "unit_started", "unit_finished"),
          ("last unit finished -> round merged", "unit_finished", "round_merged"),
          ("round merged -> done", "round_merged", "done"))


def phase_times(client: ClusterClient, job_id: str, seen_at: float) -> dict[str, float]:
    """Seconds spent in each of PHASES (first event of a kind; the last unit_finished and
    round_merged), and 'done -> client sees it' from ``seen_at`` (time.time())."""
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    for event in client.events.read(job_id):
        kind = str(getattr(event.type, "value", event.type))
        first.setdefault(kind, event.wall)
        last[kind] = event.wall
    stamps = {**first, "unit_finished": last.get("unit_finished", 0.0),
              "round_merged": last.get("round_merged", 0.0)}
    out = {name: stamps[b] - stamps[a] for name, a, b in PHASES if a in stamps and b in stamps}
    out["done -> client sees it"] = seen_at - stamps.get("done", seen_at)
    out["rounds"] = float(client.status(job_id)["rounds_done"])
    return out


def overhead(args: argparse.Namespace) -> None:
    workers = max(args.workers)
    problem = load_problem(REPO / "examples" / "berlin52.tsp")
    opt = known_optimum(problem.name, problem.n)
    embedded = []
    for seed in range(args.overhead_jobs if args.embedded else 0):
        t = time.perf_counter()
        res = solve_local(problem, time_s=10, workers=workers, seed=seed, target=opt,
                          on_progress=None)
        embedded.append(time.perf_counter() - t)
        assert res.length == opt
    cluster, solving, phases = [], [], []
    with LocalCluster(args.redis_url, workers) as lc:
        lc.client.solve(problem, {"time_s": 10, "seed": 0, "target": opt})  # warm the workers
        for seed in range(args.overhead_jobs):
            t = time.perf_counter()
            res = lc.client.solve(problem, {"time_s": 10, "seed": seed, "target": opt})
            cluster.append(time.perf_counter() - t)
            phases.append(phase_times(lc.client, res.stats["job_id"], time.time()))
            solving.append(unit_seconds(lc.client, res.stats["job_id"]) / workers)
    print(f"\n## Overhead: berlin52 to its optimum ({opt}), {args.overhead_jobs} jobs, "
          f"{workers} workers (idle cluster, one job at a time)")
    print("| mode | p50 s | p95 s | mean s |\n|---|---:|---:|---:|")
    rows = [("cluster (submit->result)", cluster)]
    if embedded:
        rows.insert(0, ("embedded (solve_local)", embedded))
    for name, values in rows:
        print(f"| {name} | {pct(values, 0.5):.3f} | {pct(values, 0.95):.3f} | "
              f"{statistics.mean(values):.3f} |")
    print("\n| phase of a cluster job | p50 ms | p95 ms |\n|---|---:|---:|")
    for name in [p[0] for p in PHASES] + ["done -> client sees it"]:
        values = [1000 * p[name] for p in phases if name in p]
        if values:
            print(f"| {name} | {pct(values, 0.5):.1f} | {pct(values, 0.95):.1f} |")
    print(f"\nrounds per job: mean {statistics.mean(p['rounds'] for p in phases):.2f}; "
          f"mean unit time per worker in a cluster job: {statistics.mean(solving):.3f} s")
    if embedded:
        print(f"cluster - embedded at p50: {pct(cluster, 0.5) - pct(embedded, 0.5):+.3f} s")


def throughput(args: argparse.Namespace) -> None:
    slots = max(args.workers)
    problems: list[Problem] = [generate("uniform", 100, seed) for seed in range(args.jobs)]
    with LocalCluster(args.redis_url, slots) as lc:
        t0 = time.time()
        ids = [lc.client.submit(p, {"time_s": 1.0, "stall_rounds": 1, "seed": i})
               for i, p in enumerate(problems)]
        submitted = time.time() - t0
        pending = list(ids)
        while pending:  # only jobs not seen final yet: the polling itself loads the machine
            time.sleep(0.5)
            pending = [j for j in pending if lc.client.status(j)["status"]
                       not in ("done", "failed", "cancelled")]
        statuses = [lc.client.status(j) for j in ids]
        wall = max(s["finished_at"] for s in statuses) - t0
        busy = sum(unit_seconds(lc.client, j) for j in ids)
        failed = sum(s["status"] != "done" for s in statuses)
    print(f"\n## Throughput: {args.jobs} jobs of n=100 (1 s budget or one round without gain), "
          f"{slots} worker slots")
    print("| jobs | not done | submit s | wall s | jobs/s | solving % | waiting % |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    share = 100.0 * busy / (slots * wall)
    print(f"| {args.jobs} | {failed} | {submitted:.2f} | {wall:.1f} | {args.jobs / wall:.2f} | "
          f"{share:.1f} | {100 - share:.1f} |")


@dataclass(frozen=True)
class Instance:
    """One scaling instance and the length its gaps are measured against."""

    path: Path
    problem: Problem
    reference: float
    reference_kind: str  # "optimum", "Held-Karp bound (proven)" or "... (estimate)"


def scaling_instances(specs: str, folder: Path, bound_s: float) -> list[Instance]:
    """Each spec is a .tsp path or gen:KIND:N:SEED (generated and written into ``folder``)."""
    out = []
    for spec in filter(None, specs.split(",")):
        if spec.startswith("gen:"):
            try:
                kind, n, seed = spec.split(":")[1:]
                problem = generate(kind, int(n), int(seed))
            except ValueError as exc:
                raise SystemExit(f"bad instance spec {spec!r} (gen:KIND:N:SEED): {exc}") from exc
            path = folder / f"{problem.name}.tsp"
            write_tsplib(problem, path)
        else:
            path = Path(spec)
            problem = load_problem(path)
        opt = read_optima(path.parent).get(path.stem) or known_optimum(problem.name, problem.n)
        if opt:
            out.append(Instance(path, problem, float(opt), "optimum"))
            continue
        bound = held_karp_bound(problem, bound_s)  # before any run: alone on the machine
        proof = "proven" if bound.proven else "estimate"
        out.append(Instance(path, problem, float(bound.value), f"Held-Karp bound ({proof})"))
    return out


def scaling(args: argparse.Namespace) -> None:
    budget, seeds = args.scaling_time, range(args.seed, args.seed + args.repeats)
    rows = []
    with tempfile.TemporaryDirectory(prefix="tsp-bench-") as tmp:
        for inst in scaling_instances(args.instances, Path(tmp), args.bound_s):
            # fast-tsp first, while no cluster process is alive beside it.
            runs = [measure("fast-tsp", inst.path, budget, FAST_TSP_THREADS, seed,
                            3 * budget + 60) for seed in seeds if args.fast_tsp_rows]
            notes = {r["note"] for r in runs if "length" not in r}
            if runs:
                rows.append(_scaling_row(inst, f"fast-tsp, {FAST_TSP_THREADS} threads",
                                         [r["length"] for r in runs if "length" in r], notes))
            if args.embedded_rows:  # the same cores without the cluster, and no bound either
                slots = max(args.workers)
                for merge in args.merge:
                    lengths = [solve_local(inst.problem, time_s=budget, workers=slots, seed=seed,
                                           bound=False, merge=merge, on_progress=None).length
                               for seed in seeds]
                    rows.append(_scaling_row(inst, f"embedded, {slots} workers, merge "
                                             f"{'on' if merge else 'off'}", lengths, set()))
            for workers in args.workers:
                with LocalCluster(args.redis_url, workers) as lc:
                    for merge in args.merge:
                        lengths, notes = [], set()
                        for seed in seeds:
                            try:
                                lengths.append(lc.client.solve(inst.problem, {
                                    "time_s": budget, "seed": seed, "merge": merge}).length)
                            except TspCeleryError as exc:  # one failed job, not the whole run
                                notes.add(f"failed: {exc}"[:80])
                        label = (f"cluster, {workers} worker{'s' * (workers > 1)}, "
                                 f"merge {'on' if merge else 'off'}")
                        rows.append(_scaling_row(inst, label, lengths, notes))
    print(f"\n## Scaling: gap at {budget:g} s, {args.repeats} run(s) each (seeds "
          f"{seeds.start}..{seeds.stop - 1})")
    header = ["instance", "n", "reference", "solver", "mean gap %", "min %", "max %", "repeats"]
    print(fmt_row(header))
    print(fmt_row(["---"] * len(header)))
    for row in rows:
        gaps = row["gaps"]
        stats = ([f"{sum(gaps) / len(gaps):.3f}", f"{min(gaps):.3f}", f"{max(gaps):.3f}"]
                 if gaps else ["", "", ""])
        repeats = f"{len(gaps)}" + "".join(f" ({note})" for note in sorted(row["notes"]))
        ref = row["reference"]
        shown = f"{ref:.0f}" if ref.is_integer() else f"{ref:.2f}"
        print(fmt_row([row["instance"], row["n"], f"{row['reference_kind']} {shown}",
                       row["solver"], *stats, repeats]), flush=True)
    if args.json:
        for row in rows:
            print(json.dumps({**row, "notes": sorted(row["notes"]), "time_s": budget}))


def _scaling_row(inst: Instance, solver: str, lengths: list[float], notes: set[str]) -> dict:
    return {"instance": inst.problem.name, "n": inst.problem.n, "reference": inst.reference,
            "reference_kind": inst.reference_kind, "solver": solver,
            "gaps": [100.0 * (length - inst.reference) / inst.reference for length in lengths],
            "notes": notes}


def merge_modes(text: str) -> list[bool]:
    """``--merge on,off``: merging on, off, or both in that order."""
    modes = {"on": True, "off": False}
    try:
        return [modes[m.strip()] for m in text.split(",")]
    except KeyError:
        raise argparse.ArgumentTypeError(f"expected on, off or on,off - got {text!r}") from None


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def worker_counts(text: str) -> list[int]:
    """``--workers 1,2,4``: distinct counts, ascending."""
    return sorted({positive(c) for c in text.split(",")})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=worker_counts, default=[1, 2],
                    help="worker processes (one slot each), comma-separated counts: scaling "
                         "runs each; overhead and throughput use the largest")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/12",
                    help="Redis to run on (a private key prefix is used and removed)")
    ap.add_argument("--only", default="overhead,throughput,scaling")
    ap.add_argument("--overhead-jobs", type=int, default=20)
    ap.add_argument("--no-embedded", dest="embedded", action="store_false",
                    help="overhead: skip the embedded solves beside the cluster's")
    ap.add_argument("--jobs", type=int, default=200, help="throughput: number of jobs")
    ap.add_argument("--instances", default=SCALING_INSTANCES,
                    help="scaling: comma-separated .tsp paths and gen:KIND:N:SEED specs")
    ap.add_argument("--scaling-time", type=float, default=30.0,
                    help="scaling: wall seconds per run (cluster job budget, fast-tsp time)")
    ap.add_argument("--merge", type=merge_modes, default=[True, False],
                    help="scaling: tour merging on, off or on,off (default)")
    ap.add_argument("--repeats", type=positive, default=1,
                    help="scaling: runs per solver and instance (seeds --seed, --seed + 1, ...)")
    ap.add_argument("--seed", type=int, default=0, help="scaling: seed of the first run")
    ap.add_argument("--bound-s", type=float, default=30.0,
                    help="scaling: Held-Karp bound budget for instances without an optimum")
    ap.add_argument("--no-fast-tsp", dest="fast_tsp_rows", action="store_false",
                    help="scaling: skip the fast-tsp alone rows")
    ap.add_argument("--embedded-rows", action="store_true",
                    help="scaling: also solve embedded (solve_local, the largest --workers, "
                         "no bound) at the same budget and seeds")
    ap.add_argument("--json", action="store_true",
                    help="scaling: also print every table row as a JSON line")
    args = ap.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                            capture_output=True, text=True).stdout.strip()
    print(f"# bench/cluster.py at {commit}, {os.cpu_count()} CPUs, workers "
          f"{','.join(map(str, args.workers))}, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name in args.only.split(","):
        {"overhead": overhead, "throughput": throughput, "scaling": scaling}[name.strip()](args)


if __name__ == "__main__":
    main()
