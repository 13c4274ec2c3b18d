"""Leader takeover time: kill -9 the leader coordinator, N times; print a table.

Two modes.

``--active 1,10,100`` (takeover at load): for each count, ``--runs`` times on a fresh private
redis-server, two coordinators (priorities 5 and 1, ``--max-active`` the count) lead that many
active jobs whose first rounds wait in the broker (a phantom worker offers the slots; no real
worker runs), each job's log holding ``--events`` filler events; the leader is killed and

- takeover: kill -> the standby holds the lease (its ``acquired_at``),
- recovery: the standby's own measure of its recovery pass ("recovered N job(s) in X s"),
- passes: how many recovery passes the standby ran (1 unless recovery was restarted);

the table gives the median of the runs per count.

Without ``--active`` (mid-job): two coordinators, two Celery workers and one job; the leader is
killed while a round runs, and besides the takeover

- resumed: kill -> the new leader's ``leader_changed`` event (recovery done),
- lost: planned unit-seconds of units that never reported before their round closed,

then the job must finish with a valid tour. Usage:

    python bench/takeover.py --active 1,10,100 [--runs 3] [--events 2000]
    python bench/takeover.py [--runs 5] [--lease-ttl-ms 1500] [--lease-renew-ms 300]
"""

from __future__ import annotations

import argparse
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # process helpers

from processes import RedisServer

from tests.chaos.chaos_harness import (
    Cluster,
    active_jobs_without_workers,
    lost_unit_seconds,
    recovery_lines,
)
from tsp_celery.cluster.events import EventType


def one_run(cluster: Cluster, run: int, instance: str, time_s: float) -> dict:
    a = cluster.coordinator(f"a{run}", priority=5)
    assert cluster.wait_for_leader(30, not_node=f"b{run - 1}")["node_id"] == f"a{run}"
    b = cluster.coordinator(f"b{run}", priority=1)
    job, problem = cluster.submit(instance, time_s=time_s)
    rec = cluster.wait_round(job, 2)
    killed_at = time.time()
    a.signal(signal.SIGKILL)
    leader = cluster.wait_for_leader(30, not_node=f"a{run}")
    done = cluster.check_done(job, problem, timeout_s=120)
    resumed = [e.wall for e in cluster.events.read(job)
               if e.type is EventType.LEADER_CHANGED and e.node == f"b{run}"]
    b.stop()
    cluster.redis.delete(cluster.keys.lease())  # b is dead; the next run starts clean
    return {"run": run, "takeover_s": leader["acquired_at"] - killed_at,
            "resumed_s": (resumed[0] - killed_at) if resumed else float("nan"),
            "lost_unit_s": lost_unit_seconds(cluster.store, job),
            "round": int(rec.get("round", 0)), "best_before": float(rec["best_length"]),
            "best_after": float(done["best_length"])}


def at_load(count: int, events: int, ttl_ms: int, renew_ms: int) -> dict:
    """One kill -9 of the leader of ``count`` active jobs, on a fresh Redis."""
    workdir = Path(tempfile.mkdtemp(prefix="tsp-takeover-"))
    server = RedisServer(workdir)
    cluster = Cluster(server, workdir)
    cluster.env["TSP_CELERY_LEASE_TTL_MS"] = str(ttl_ms)
    cluster.env["TSP_CELERY_LEASE_RENEW_MS"] = str(renew_ms)
    try:
        a = cluster.coordinator("a", 5, "--max-active", str(count))
        assert cluster.wait_for_leader(30)["node_id"] == "a"
        b = cluster.coordinator("b", 1, "--max-active", str(count))
        active_jobs_without_workers(cluster, count, events)
        deadline = time.monotonic() + 30
        while not cluster.redis.hexists(cluster.keys.coordinators(), "b"):
            assert time.monotonic() < deadline, "standby b never registered"
            time.sleep(0.05)
        killed_at = time.time()
        a.signal(signal.SIGKILL)
        leader = cluster.wait_for_leader(30, not_node="a")
        deadline = time.monotonic() + 60
        while not (lines := recovery_lines(b.log())):
            assert time.monotonic() < deadline, "b never finished its recovery"
            time.sleep(0.05)
        time.sleep(2 * ttl_ms / 1000)  # would a second pass start?
        lines = recovery_lines(b.log())
        return {"jobs": count, "takeover_s": leader["acquired_at"] - killed_at,
                "recovery_s": float(lines[0].split(" in ")[1].split()[0]),
                "passes": len(lines)}
    finally:
        cluster.stop()
        server.kill()
        shutil.rmtree(workdir, ignore_errors=True)


def main_at_load(args: argparse.Namespace) -> None:
    rows = []
    for count in (int(c) for c in args.active.split(",")):
        runs = []
        for run in range(1, args.runs + 1):
            runs.append(at_load(count, args.events, args.lease_ttl_ms, args.lease_renew_ms))
            r = runs[-1]
            print(f"{count} jobs, run {run}: takeover {r['takeover_s']:.3f} s, recovery "
                  f"{r['recovery_s']:.3f} s, {r['passes']} pass(es)", file=sys.stderr)
        rows.append({"jobs": count, "passes": max(r["passes"] for r in runs),
                     **{k: statistics.median(r[k] for r in runs)
                        for k in ("takeover_s", "recovery_s")}})
    print(f"\nLeader kill -9 with N active jobs ({args.events} events each; lease TTL "
          f"{args.lease_ttl_ms} ms, renew {args.lease_renew_ms} ms; median of {args.runs})\n")
    print("| active jobs | takeover (s) | recovery (s) | recovery passes (max) |")
    print("|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['jobs']} | {r['takeover_s']:.3f} | {r['recovery_s']:.3f} | "
              f"{r['passes']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--lease-ttl-ms", type=int, default=1500)
    parser.add_argument("--lease-renew-ms", type=int, default=300)
    parser.add_argument("--instance", default="dsj1000", help="a file in tests/data (no .tsp)")
    parser.add_argument("--time", type=float, default=15.0, help="job time budget (s)")
    parser.add_argument("--active", default="", help="takeover at load: counts of active "
                        "jobs, e.g. 1,10,100")
    parser.add_argument("--events", type=int, default=2000, help="filler events per job "
                        "(with --active)")
    args = parser.parse_args()
    if args.active:
        main_at_load(args)
        return

    workdir = Path(tempfile.mkdtemp(prefix="tsp-takeover-"))
    server = RedisServer(workdir)
    cluster = Cluster(server, workdir)
    cluster.env["TSP_CELERY_LEASE_TTL_MS"] = str(args.lease_ttl_ms)
    cluster.env["TSP_CELERY_LEASE_RENEW_MS"] = str(args.lease_renew_ms)
    rows = []
    try:
        cluster.worker("w1")
        cluster.worker("w2")
        cluster.wait_for_workers(2, 120)
        for run in range(1, args.runs + 1):
            rows.append(one_run(cluster, run, args.instance, args.time))
            r = rows[-1]
            print(f"run {run}: takeover {r['takeover_s']:.3f} s, resumed {r['resumed_s']:.3f} s, "
                  f"lost {r['lost_unit_s']:.1f} unit-s", file=sys.stderr)
    finally:
        cluster.stop()
        server.kill()
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"\nLeader kill -9 mid-job ({args.instance}, lease TTL {args.lease_ttl_ms} ms, "
          f"renew {args.lease_renew_ms} ms, 2 workers)\n")
    print("| run | round at kill | takeover (s) | resumed (s) | lost (unit-s) | best before "
          "| best after |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['run']} | {r['round']} | {r['takeover_s']:.3f} | {r['resumed_s']:.3f} | "
              f"{r['lost_unit_s']:.1f} | {r['best_before']:.0f} | {r['best_after']:.0f} |")
    med = {k: statistics.median(r[k] for r in rows)
           for k in ("takeover_s", "resumed_s", "lost_unit_s")}
    print(f"| median | | {med['takeover_s']:.3f} | {med['resumed_s']:.3f} | "
          f"{med['lost_unit_s']:.1f} | | |")


if __name__ == "__main__":
    main()
