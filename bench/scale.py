"""Scale-out: how many worker slots and jobs one coordinator and one Redis drive; print a table.

Per point, on a fresh private redis-server: two coordinators (a leader and a standby), Celery
workers with the threads (or ``--pool gevent``) pool running the stub engine
(``TSP_CELERY_STUB_ENGINE=sleep``: units sleep for their slice and report like real ones), and
``--jobs`` jobs on one random instance of ``--nodes`` nodes. Midway the leader is killed -9
once; the standby takes over and the jobs must all finish. Measured per point:

- util: slot utilisation, unit run time (started -> finished) / (slots x the busy window),
- dispatch p50/p99: round planned -> unit started (event log walls; includes queueing),
- merge p50: last unit finished -> round merged,
- coord CPU: CPU seconds of the coordinators per wall second of the window,
- worker CPU ms / unit: CPU of the worker processes per unit run (the control plane's cost of a
  unit on a worker: the stub's own work is a sleep; merges included),
- redis CPU and ops/s, memory (peak used_memory), KB moved per round (net in + out),
- events per round (stream entries), failover (kill -> the standby holds the lease),
- done: jobs finished / submitted (nothing may be lost).

Usage:

    python bench/scale.py --quick                    # one small point, seconds (the CI test)
    python bench/scale.py                            # the sweep (minutes)
    python bench/scale.py --points 500x10x1000       # slots x jobs x nodes, comma separated
    python bench/scale.py --points 500x10x1000x30 --pool gevent   # greenlets, not threads
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # process helpers

from pools import THREADS_PER_WORKER, add_pool_option
from processes import RedisServer, Service

from tsp_celery.cluster.client import ClusterClient
from tsp_celery.cluster.events import EventLog, EventType
from tsp_celery.cluster.job import JobParams
from tsp_celery.cluster.keys import Keys
from tsp_celery.cluster.lease import read_leader
from tsp_celery.cluster.workers import live_workers, total_slots
from tsp_celery.problem import Problem
from tsp_celery.settings import Settings
from tsp_celery.solver.stub import STUB_ENV

PREFIX = "scale"
LEASE_TTL_MS, LEASE_RENEW_MS = 1500, 300
# slots x jobs x nodes [x job seconds]: the slots sweep runs ~10 s rounds (20 s jobs); the jobs
# sweep runs short jobs so that 1,000 of them pass through 100 slots in about a minute.
SWEEP = ("10x10x1000,100x10x1000,500x10x1000,1000x10x1000,"
         "100x100x1000x4,100x1000x1000x4,100x10x10000,100x10x100000")
QUICK = "8x4x1000x6"
FINAL = ("done", "failed", "cancelled")


def random_instance(n: int, seed: int = 1) -> Problem:
    xy = np.random.default_rng(seed).integers(0, 10 * n, (n, 2)).astype(float)
    return Problem(name=f"rand{n}", edge_weight_type="EUC_2D", coords=xy)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


class Point:
    """One measured configuration: its processes, then its figures."""

    def __init__(self, slots: int, jobs: int, nodes: int, time_s: float, workdir: Path,
                 retention_s: int = 0, failover: bool = True, pool: str = "threads",
                 per_process: int = THREADS_PER_WORKER) -> None:
        self.slots, self.jobs, self.nodes, self.time_s = slots, jobs, nodes, time_s
        self.retention_s, self.failover = retention_s, failover
        self.pool, self.per_process = pool, per_process
        self.server = RedisServer(workdir, appendonly=False)
        self.workdir = workdir
        self.env = {**os.environ, "TSP_CELERY_REDIS_URL": self.server.url,
                    "TSP_CELERY_PREFIX": PREFIX, STUB_ENV: "sleep",
                    "TSP_CELERY_LEASE_TTL_MS": str(LEASE_TTL_MS),
                    "TSP_CELERY_LEASE_RENEW_MS": str(LEASE_RENEW_MS),
                    "TSP_CELERY_MAX_ACTIVE_JOBS": str(max(jobs, 1000)),
                    **({"TSP_CELERY_RETENTION_S": str(retention_s)} if retention_s else {}),
                    "PYTHONUNBUFFERED": "1"}
        self.redis = redis.Redis.from_url(self.server.url, socket_timeout=30)
        self.keys = Keys(PREFIX)
        self.client = ClusterClient(Settings.from_env(self.env), redis=self.redis)
        self.events = EventLog(self.redis, self.keys)
        self.procs: dict[str, Service] = {}

    def start(self, name: str, argv: list[str]) -> Service:
        proc = self.procs[name] = Service(name, argv, self.env, self.workdir / f"{name}.log")
        return proc

    def coordinator(self, name: str, priority: int) -> Service:
        # default admission: as many running jobs as live slots, the rest wait queued
        return self.start(name, [sys.executable, "-m", "tsp_celery", "coordinator", "--node-id",
                                 name, "--priority", str(priority)])

    def workers(self) -> None:
        left, i = self.slots, 0
        while left > 0:
            threads = min(left, self.per_process)
            self.start(f"w{i}", [sys.executable, "-m", "celery", "-A", "tasks", "worker",
                                 "-P", self.pool, "-c", str(threads), "-n", f"w{i}@%h",
                                 "-l", "warning", "--without-gossip", "--without-mingle"])
            left, i = left - threads, i + 1

    def wait(self, predicate, timeout_s: float, what: str) -> object:
        deadline = time.monotonic() + timeout_s
        while not (value := predicate()):
            if time.monotonic() > deadline:
                tails = "\n".join(p.tail(15) for p in self.procs.values())
                raise TimeoutError(f"timed out waiting for {what}\n{tails}")
            time.sleep(0.1)
        return value

    def memory(self, leader: psutil.Process | None = None) -> dict:
        """Redis used_memory (MB) and keys (of them Celery's task results), the leader's RSS."""
        celery_results = sum(1 for _ in self.redis.scan_iter(
            f"{PREFIX}:celery:celery-task-meta-*", count=1000))
        families: dict[str, int] = {}
        for key in self.redis.scan_iter(count=1000):
            family = re.sub(r"[0-9a-f]{8,}(-[0-9a-f]{4,})*", "*", key.decode(errors="replace"))
            families[family] = families.get(family, 0) + 1
        return {"redis_mb": int(self.redis.info("memory")["used_memory"]) / 2**20,
                "keys": int(self.redis.dbsize()), "celery_results": celery_results,
                "families": sorted(families.items(), key=lambda kv: -kv[1])[:6],
                "leader_mb": leader.memory_info().rss / 2**20 if leader else float("nan")}

    def not_done(self) -> list[str]:
        """Jobs that did not end 'done': their status and error (a stop must say why)."""
        out = []
        for job_id in self.job_ids:
            status, error = self.redis.hmget(self.keys.job(job_id), "status", "error")
            if status != b"done":
                out.append(f"{job_id}: {(status or b'gone').decode()}: "
                           f"{(error or b'').decode()[:200]}")
        return out

    def statuses(self) -> list[str]:
        pipe = self.redis.pipeline(transaction=False)
        for job_id in self.job_ids:
            pipe.hget(self.keys.job(job_id), "status")
        return [(s or b"").decode() for s in pipe.execute()]

    def run(self) -> dict:
        self.workers()
        self.wait(lambda: total_slots(live_workers(self.redis, self.keys)) >= self.slots, 120,
                  f"{self.slots} worker slots")
        problem = random_instance(self.nodes)
        before = self.memory()
        # All queued before the leader starts, so the first plans already share the slots.
        # Stall 2: a stub never improves, so each job runs its first rounds and stops.
        self.job_ids = [self.client.submit(problem, JobParams(time_s=self.time_s, seed=i,
                                                              stall_rounds=2))
                        for i in range(self.jobs)]
        self.coordinator("a", 5)
        self.wait(lambda: (read_leader(self.redis, self.keys) or {}).get("node_id") == "a", 30,
                  "leader a")
        self.coordinator("b", 1)
        coords = [psutil.Process(self.procs[n].pid) for n in ("a", "b")]
        workers = [psutil.Process(p.pid) for n, p in self.procs.items() if n.startswith("w")]
        worker_cpu0 = sum(_cpu_s(w) for w in workers)
        info0, cpu0, t0 = self.redis.info(), [c.cpu_times() for c in coords], time.time()
        # without a failover the leader counts as killed already (it is not)
        peak_memory, failover, killed = 0, float("nan"), not self.failover
        deadline = time.monotonic() + 120 + 3 * self.time_s * max(1, self.jobs // 100)
        while True:
            statuses = self.statuses()
            peak_memory = max(peak_memory, int(self.redis.info("memory")["used_memory"]))
            running = statuses.count("running")
            if not killed and (sum(s in FINAL for s in statuses) >= len(statuses) // 2 > 0
                               or (running and time.time() - t0 > self.time_s / 2)):
                killed_at, killed = time.time(), True
                cpu_a = coords[0].cpu_times()
                self.procs["a"].signal(signal.SIGKILL)
                leader = self.wait(lambda: (info := read_leader(self.redis, self.keys))
                                   and info["node_id"] == "b" and info, 30, "takeover by b")
                failover = leader["acquired_at"] - killed_at
            if all(s in FINAL for s in statuses):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"jobs not finished: {statuses}")
            time.sleep(0.25)
        t1, info1 = time.time(), self.redis.info()
        worker_cpu = sum(_cpu_s(w) for w in workers) - worker_cpu0
        cpu_b = coords[1].cpu_times()
        cpu_a = cpu_a if self.failover else coords[0].cpu_times()
        coord_cpu = sum(c.user + c.system for c in (cpu_a, cpu_b)) - sum(
            c.user + c.system for c in cpu0)
        figures = self.figures(t0, t1)
        not_done = self.not_done()  # before retention forgets them
        leader = coords[1] if self.failover else coords[0]
        memory = {"before": before, "end": self.memory(leader)}
        if self.retention_s:  # the finished jobs' keys expire: what is left after that
            time.sleep(max(0.0, t1 + self.retention_s + 5 - time.time()))
            memory["settled"] = self.memory(leader)
        return {**figures, "memory": memory, "not_done": not_done,
                "coord_cpu": coord_cpu / (t1 - t0),
                "worker_ms_unit": 1000 * worker_cpu / max(figures["units"], 1),
                "redis_cpu": (_cpu(info1) - _cpu(info0)) / (t1 - t0),
                "ops_s": (info1["total_commands_processed"] - info0["total_commands_processed"])
                / (t1 - t0),
                "net_bytes": _net(info1) - _net(info0), "memory_mb": peak_memory / 2**20,
                "failover_s": failover, "done": statuses.count("done"), "wall_s": t1 - t0}

    def figures(self, t0: float, t1: float) -> dict:
        """Utilisation and latencies from the jobs' event logs."""
        busy, dispatch, merge, rounds, events = 0.0, [], [], 0, 0
        first_start, last_finish = t1, t0
        timelines = []
        for job_id in self.job_ids:
            log = self.events.read(job_id)
            events += len(log)
            line = Timeline(job_id)
            for e in log:
                line.add(e)
            rounds += len(line.merged)
            merge += [w - max(line.ends(r)) for r, w in line.merged.items() if line.ends(r)]
            for (r, unit), wall in line.started.items():
                if r in line.planned:
                    dispatch.append(wall - line.planned[r])
                if (r, unit) in line.finished:
                    busy += line.finished[(r, unit)] - wall
                    first_start = min(first_start, wall)
                    last_finish = max(last_finish, line.finished[(r, unit)])
            timelines.append(line)
        window = max(last_finish - first_start, 1e-9)
        idle = idle_breakdown(timelines, self.slots, first_start, last_finish)
        return {"util": busy / (self.slots * window),
                "util_all": all_running_util(timelines, self.slots),
                "dispatch_p50": percentile(dispatch, 50),
                "dispatch_p99": percentile(dispatch, 99), "merge_p50": percentile(merge, 50),
                "rounds": rounds, "units": len(dispatch), "events": events,
                "idle": {k: v / (self.slots * window) for k, v in idle.items()},
                "per_round": sorted((r for line in timelines for r in line.rounds(t0)),
                                    key=lambda r: r["planned"])}

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.stop()
        self.redis.close()
        self.server.kill()


class Timeline:
    """One job's rounds from its event log: walls of plans, unit starts and ends, merges."""

    def __init__(self, job_id: str = "") -> None:
        self.job_id = job_id
        self.closer: dict[int, str] = {}
        self.planned: dict[int, float] = {}
        self.merged: dict[int, float] = {}
        self.started: dict[tuple, float] = {}
        self.finished: dict[tuple, float] = {}

    def add(self, e) -> None:
        r = e.data.get("round")
        if e.type is EventType.ROUND_PLANNED:
            self.planned[r] = e.wall
        elif e.type is EventType.UNIT_STARTED:
            self.started.setdefault((r, e.data.get("unit")), e.wall)
        elif e.type is EventType.UNIT_FINISHED:
            self.finished[(r, e.data.get("unit"))] = e.wall
        elif e.type is EventType.ROUND_MERGED:
            self.merged[r] = e.wall
            self.closer[r] = e.data.get("closer", "")

    def ends(self, r: int) -> list[float]:
        return [w for (rr, _), w in self.finished.items() if rr == r]

    def rounds(self, t0: float) -> list[dict]:
        """Per round: planned (s after t0), its units' first and last start after that, the
        spread of their ends, last end -> merged (close), merged -> next planned (plan)."""
        out = []
        order = sorted(self.planned)
        for i, r in enumerate(order):
            starts = sorted(w for (rr, _), w in self.started.items() if rr == r)
            ends = self.ends(r)
            if not starts or not ends:
                continue
            merged = self.merged.get(r)
            nxt = self.planned[order[i + 1]] if i + 1 < len(order) else None
            out.append({"job": self.job_id[-4:], "round": r, "units": len(starts),
                        "closer": self.closer.get(r, ""), "planned": self.planned[r] - t0,
                        "first": starts[0] - self.planned[r], "last": starts[-1] - self.planned[r],
                        "straggle": max(ends) - min(ends),
                        "close": merged - max(ends) if merged else None,
                        "plan": nxt - merged if nxt and merged else None})
        return out


def all_running_util(lines: list[Timeline], slots: int) -> float:
    """Slot utilisation while every job runs (from the last job's first unit start to the
    first job's last unit end): no slot idles there for want of a job."""
    spans = [(min(line.started.values()), max(line.finished.values()))
             for line in lines if line.started and line.finished]
    if not spans:  # no job ran a unit to its end
        return float("nan")
    start, end = max(s for s, _ in spans), min(e for _, e in spans)
    if end <= start:
        return float("nan")
    busy = sum(max(0.0, min(line.finished[k], end) - max(s, start))
               for line in lines for k, s in line.started.items() if k in line.finished)
    return busy / (slots * (end - start))


# Where the slots' idle time goes (slot-seconds), in the order a round passes through them.
IDLE_CAUSES = ("dispatch", "straggle", "close", "plan", "head", "tail", "unassigned")


def idle_breakdown(lines: list[Timeline], slots: int, t_start: float,
                   t_end: float) -> dict[str, float]:
    """Idle slot-seconds by cause: a unit's round planned -> it started (dispatch); it ended
    -> its round's last unit ended (straggle); last unit ended -> merged (close), times the
    next round's units; merged -> next round planned (plan); before a job's first unit and
    after its last (head, tail); slots no round was planned for (unassigned). Counted per job
    at its rounds' widths: a unit queued behind another job's, or slots a finished job left to
    another's wider round, count here too, so the causes can add up to more than the idle time.
    """
    out = dict.fromkeys(IDLE_CAUSES, 0.0)
    held = 0.0  # slot-seconds the jobs' rounds span
    for line in lines:
        rounds = sorted(r for r in line.planned if line.ends(r))
        for i, r in enumerate(rounds):
            units = [(s, line.finished[k]) for k, s in line.started.items()
                     if k[0] == r and k in line.finished]
            last = max(e for _, e in units)
            planned = max(line.planned[r], t_start)  # the window opens at the first start
            out["dispatch"] += sum(s - planned for s, _ in units)
            out["straggle"] += sum(last - e for _, e in units)
            held += len(units) * (last - planned)
            if i + 1 < len(rounds):
                nxt = rounds[i + 1]
                width = sum(k[0] == nxt for k in line.started)
                merged = line.merged.get(r, last)
                out["close"] += width * (merged - last)
                out["plan"] += width * (line.planned[nxt] - merged)
                held += width * (line.planned[nxt] - last)
        if rounds:
            first_w = sum(k[0] == rounds[0] for k in line.started)
            last_w = sum(k[0] == rounds[-1] for k in line.started)
            head = first_w * max(line.planned[rounds[0]] - t_start, 0.0)
            tail = last_w * (t_end - max(line.ends(rounds[-1])))
            out["head"] += head
            out["tail"] += tail
            held += head + tail
    out["unassigned"] = max(slots * (t_end - t_start) - held, 0.0)
    return out


def _cell(value: object) -> str:
    return "-" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


def _cpu_s(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def _cpu(info: dict) -> float:
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def _net(info: dict) -> int:
    return int(info["total_net_input_bytes"]) + int(info["total_net_output_bytes"])


def measure(slots: int, jobs: int, nodes: int, time_s: float, retention_s: int = 0,
            failover: bool = True, pool: str = "threads",
            per_process: int = THREADS_PER_WORKER) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="tsp-scale-"))
    point = Point(slots, jobs, nodes, time_s, workdir, retention_s, failover, pool, per_process)
    try:
        return {"slots": slots, "jobs": jobs, "nodes": nodes, "time_s": time_s, **point.run()}
    finally:
        point.stop()
        shutil.rmtree(workdir, ignore_errors=True)


HEADER = ("| slots | jobs | nodes | job s | done | util | dispatch p50 / p99 (s) | merge p50 (s) "
          "| coord CPU | worker CPU ms / unit | Redis CPU | Redis ops/s | Redis MB | KB / round "
          "| events / round | failover (s) |")


def row(r: dict) -> str:
    rounds = max(r["rounds"], 1)
    return (f"| {r['slots']} | {r['jobs']} | {r['nodes']} | {r['time_s']:g} "
            f"| {r['done']}/{r['jobs']} "
            f"| {r['util']:.0%} | {r['dispatch_p50']:.2f} / {r['dispatch_p99']:.2f} "
            f"| {r['merge_p50']:.2f} | {r['coord_cpu']:.0%} | {r['worker_ms_unit']:.0f} "
            f"| {r['redis_cpu']:.0%} "
            f"| {r['ops_s']:.0f} | {r['memory_mb']:.1f} | {r['net_bytes'] / 1024 / rounds:.0f} "
            f"| {r['events'] / rounds:.1f} | {r['failover_s']:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"one small point ({QUICK})")
    parser.add_argument("--points", default=SWEEP,
                        help="slots x jobs x nodes [x job seconds, default 20], comma separated")
    parser.add_argument("--no-failover", action="store_true",
                        help="do not kill the leader: utilisation in steady state")
    parser.add_argument("--retention-s", type=int, default=0,
                        help="finished jobs expire after this; wait for it and print memory "
                             "before the jobs, when they are done and after retention")
    parser.add_argument("--breakdown", action="store_true",
                        help="also print where the slots' idle time went, by cause")
    parser.add_argument("--rounds", action="store_true",
                        help="also print every round's timings (see Timeline.rounds)")
    add_pool_option(parser)
    parser.add_argument("--per-process", type=int, default=THREADS_PER_WORKER,
                        help="slots (threads or greenlets) per worker process")
    args = parser.parse_args()
    points = QUICK if args.quick else args.points
    rows = []
    kill = "leader never killed" if args.no_failover else "leader killed -9 once per point"
    print(f"Stub units (sleep), {args.pool} pool, {args.per_process} slots a process, "
          f"lease TTL {LEASE_TTL_MS} ms; stall 2 rounds; {kill}\n")
    print(HEADER)
    print("|" + "---:|" * (HEADER.count("|") - 1))
    for spec in points.split(","):
        slots, jobs, nodes, time_s = ([float(x) for x in spec.split("x")] + [20.0])[:4]
        rows.append(measure(int(slots), int(jobs), int(nodes), time_s, args.retention_s,
                            not args.no_failover, args.pool, args.per_process))
        print(row(rows[-1]), flush=True)
        for line in rows[-1]["not_done"]:
            print(f"  not done: {line}", flush=True)
        if args.rounds:
            for r in rows[-1]["per_round"]:
                print("  " + " ".join(f"{k}={_cell(v)}" for k, v in r.items()), flush=True)
    if args.retention_s:
        print(f"\nMemory with retention {args.retention_s} s: Redis used_memory (MB), keys (of "
              "them Celery task results), the leader's RSS (MB)\n")
        print("| slots | jobs | nodes | job s | when | Redis MB | keys | Celery results "
              "| leader RSS MB |")
        print("|" + "---:|" * 9)
        for r in rows:
            for when, m in r["memory"].items():
                print(f"| {r['slots']} | {r['jobs']} | {r['nodes']} | {r['time_s']:g} | {when} "
                      f"| {m['redis_mb']:.1f} | {m['keys']} | {m['celery_results']} "
                      f"| {'-' if np.isnan(m['leader_mb']) else round(m['leader_mb'])} |")
        for r in rows:
            print(f"\nKeys left after retention ({r['slots']}x{r['jobs']}): "
                  + ", ".join(f"{k} {n}" for k, n in r["memory"]["settled"]["families"]))
    if args.breakdown:
        print("\nIdle slot-time by cause, % of slots x window (see idle_breakdown: per job, so "
              "causes may overlap); util while all jobs run (see all_running_util)\n")
        print("| slots | jobs | nodes | job s | util | util, all jobs running | "
              + " | ".join(IDLE_CAUSES) + " |")
        print("|" + "---:|" * (6 + len(IDLE_CAUSES)))
        for r in rows:
            print(f"| {r['slots']} | {r['jobs']} | {r['nodes']} | {r['time_s']:g} "
                  f"| {r['util']:.0%} | {r['util_all']:.0%} | "
                  + " | ".join(f"{r['idle'][k]:.1%}" for k in IDLE_CAUSES) + " |")


if __name__ == "__main__":
    main()
