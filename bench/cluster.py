"""Cluster benchmark: overhead, throughput and scaling of tsp-celery's cluster mode.

Starts its own Celery workers (prefork, one process each) and a coordinator on a private key
prefix of the given Redis, and removes them and their keys afterwards.

    python bench/cluster.py                                  # all three, 2 workers
    python bench/cluster.py --only overhead --overhead-jobs 20
    python bench/cluster.py --only scaling --workers 4 --instance path/to/fnl4461.tsp

- overhead: submit -> result latency of berlin52 through the cluster (p50, p95) beside the
  embedded solve of the same instance, both stopping at the known optimum;
- throughput: many n=100 jobs (1 s budget, or one round without gain) submitted at once:
  jobs per second, and the share of worker-slot time spent inside units (solving);
- scaling: an instance (fnl4461 by default) with 1 worker and with --workers workers: time to
  reach 0.1 % above the optimum and the gap at the end of the budget.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis

from tsp_celery.cluster.client import ClusterClient
from tsp_celery.cluster.lease import read_leader
from tsp_celery.cluster.workers import live_workers
from tsp_celery.local import solve_local
from tsp_celery.problem import Problem, generate, load_problem
from tsp_celery.problem.optima import known_optimum
from tsp_celery.settings import Settings

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "tsplib"


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


def overhead(args: argparse.Namespace) -> None:
    problem = load_problem(REPO / "examples" / "berlin52.tsp")
    opt = known_optimum(problem.name, problem.n)
    embedded = []
    for seed in range(args.overhead_jobs):
        t = time.perf_counter()
        res = solve_local(problem, time_s=10, workers=args.workers, seed=seed, target=opt,
                          on_progress=None)
        embedded.append(time.perf_counter() - t)
        assert res.length == opt
    cluster, solving = [], []
    with LocalCluster(args.redis_url, args.workers) as lc:
        for seed in range(args.overhead_jobs):
            t = time.perf_counter()
            res = lc.client.solve(problem, {"time_s": 10, "seed": seed, "target": opt})
            cluster.append(time.perf_counter() - t)
            solving.append(unit_seconds(lc.client, res.stats["job_id"]) / args.workers)
    print(f"\n## Overhead: berlin52 to its optimum ({opt}), {args.overhead_jobs} jobs, "
          f"{args.workers} workers")
    print("| mode | p50 s | p95 s | mean s |\n|---|---:|---:|---:|")
    for name, values in (("embedded (solve_local)", embedded), ("cluster (submit->result)",
                                                                 cluster)):
        print(f"| {name} | {pct(values, 0.5):.3f} | {pct(values, 0.95):.3f} | "
              f"{statistics.mean(values):.3f} |")
    print(f"\ncluster - embedded at p50: {pct(cluster, 0.5) - pct(embedded, 0.5):+.3f} s; "
          f"mean unit time per worker in a cluster job: {statistics.mean(solving):.3f} s")


def throughput(args: argparse.Namespace) -> None:
    problems: list[Problem] = [generate("uniform", 100, seed) for seed in range(args.jobs)]
    with LocalCluster(args.redis_url, args.workers) as lc:
        t0 = time.time()
        ids = [lc.client.submit(p, {"time_s": 1.0, "stall_rounds": 1, "seed": i})
               for i, p in enumerate(problems)]
        submitted = time.time() - t0
        while True:
            statuses = [lc.client.status(j) for j in ids]
            if all(s["status"] in ("done", "failed", "cancelled") for s in statuses):
                break
            time.sleep(0.5)
        wall = max(s["finished_at"] for s in statuses) - t0
        busy = sum(unit_seconds(lc.client, j) for j in ids)
        failed = sum(s["status"] != "done" for s in statuses)
    slots = args.workers
    print(f"\n## Throughput: {args.jobs} jobs of n=100 (1 s budget or one round without gain), "
          f"{slots} worker slots")
    print("| jobs | not done | submit s | wall s | jobs/s | solving % | waiting % |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    share = 100.0 * busy / (slots * wall)
    print(f"| {args.jobs} | {failed} | {submitted:.2f} | {wall:.1f} | {args.jobs / wall:.2f} | "
          f"{share:.1f} | {100 - share:.1f} |")


def scaling(args: argparse.Namespace) -> None:
    problem = load_problem(args.instance)
    opt = known_optimum(problem.name, problem.n)
    if opt is None:
        raise SystemExit(f"no known optimum for {problem.name}: pick a TSPLIB instance")
    rows = []
    for workers in sorted({1, args.workers}):
        with LocalCluster(args.redis_url, workers) as lc:
            res = lc.client.solve(problem, {"time_s": args.scaling_time, "seed": 0})
        reach = next((t for t, v in res.trace if v <= opt * 1.001), None)
        rows.append((workers, reach, 100.0 * (res.length - opt) / opt, res.stats["rounds"]))
    print(f"\n## Scaling: {problem.name} (n={problem.n}, optimum {opt}), "
          f"{args.scaling_time:g} s budget")
    print("| workers | time to 0.1 % gap s | gap at end % | rounds |\n|---:|---:|---:|---:|")
    for workers, reach, gap, rounds in rows:
        shown = "not reached" if reach is None else f"{reach:.1f}"
        print(f"| {workers} | {shown} | {gap:.3f} | {rounds} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2, help="worker processes (one slot each)")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/12",
                    help="Redis to run on (a private key prefix is used and removed)")
    ap.add_argument("--only", default="overhead,throughput,scaling")
    ap.add_argument("--overhead-jobs", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=200, help="throughput: number of jobs")
    ap.add_argument("--instance", default=str(SHARED / "fnl4461.tsp"),
                    help="scaling: a TSPLIB file with a known optimum")
    ap.add_argument("--scaling-time", type=float, default=30.0)
    args = ap.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                            capture_output=True, text=True).stdout.strip()
    print(f"# bench/cluster.py at {commit}, {os.cpu_count()} CPUs, {args.workers} workers")
    for name in args.only.split(","):
        {"overhead": overhead, "throughput": throughput, "scaling": scaling}[name.strip()](args)


if __name__ == "__main__":
    main()
