"""Redis memory over many sequential small jobs, with the default retention and a short one.

Runs each job's whole life through the real store scripts and a real Coordinator on a private
redis-server (no Celery: a recorder stands in for the dispatcher and each unit's result is
written as a worker writes it): submit, admit, plan, unit result, merge, finish. Prints
``used_memory`` every ``--every`` jobs, so what a job leaves behind shows as growth. Usage:

    python bench/retention.py [--jobs 1000] [--every 100] [--short-retention-s 2]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # process helpers

from processes import RedisServer

from tsp_celery.cluster.client import ClusterClient
from tsp_celery.cluster.coordinator import Coordinator
from tsp_celery.cluster.round_close import close_round
from tsp_celery.cluster.workers import beat
from tsp_celery.problem import Problem
from tsp_celery.settings import DEFAULT_RETENTION_S, Settings
from tsp_celery.solver.units import UnitResult


class Recorder:
    """The dispatcher's place: remembers the last round sent."""

    def __init__(self) -> None:
        self.last = None

    def send_round(self, job_id, instance, plan, fence, lamport, units_deadline_at=None):
        self.last = plan
        return "round"

    def send_bound(self, *args, **kwargs):
        return "bound"


def one_job(client: ClusterClient, coord: Coordinator, seed: int) -> None:
    """Submit a 14-node job and take it to 'done' the way the cluster does."""
    xy = np.random.default_rng(seed).integers(0, 1000, (14, 2)).astype(float)
    problem = Problem(name=f"r{seed}", edge_weight_type="EUC_2D", coords=xy)
    job_id = client.submit(problem, {"time_s": 5, "seed": seed})
    coord.tick()  # admitted, round 1 planned (one exact unit)
    plan = coord.dispatcher.last
    for unit in plan.units:
        tour = np.arange(problem.n)
        result = UnitResult(unit.unit_id, unit.kind, tour, problem.tour_length(tour), None, True,
                            0.01, "exact")
        client.store.record_unit(job_id, plan.round_no, unit.unit_id,
                                 {**result.summary(), "ok": True, "lamport": 2}, tour)
    close_round(client.store, problem, job_id, plan, coord.lease.fence, closer="chord",
                events=coord.events, clock=coord.clock)
    coord.tick()  # proven optimal: done
    assert client.status(job_id)["status"] == "done"


def run(url: str, retention_s: int, jobs: int, every: int) -> list[tuple[int, int, int]]:
    settings = Settings(redis_url=url, prefix=f"ret{retention_s}", retention_s=retention_s,
                        lease_ttl_ms=600_000, lease_renew_ms=1000)
    client = ClusterClient(settings)
    coord = Coordinator(settings, "bench", dispatcher=Recorder(), redis=client.redis)
    beat(client.redis, client.keys, "w", {"slots": 1}, ttl_s=3600)
    assert coord.lease.try_acquire()
    coord._follow_lease()
    rows = []
    started = time.monotonic()
    for i in range(1, jobs + 1):
        one_job(client, coord, i)
        if i % every == 0:
            client.store.purge()  # what the leader does every minute (or `jobs --purge`)
            used, keys = memory(client)
            rows.append((i, used, keys))
            print(f"retention {retention_s} s: {i} jobs, used_memory {used}, {keys} keys",
                  file=sys.stderr)
    elapsed = time.monotonic() - started
    print(f"retention {retention_s} s: {jobs} jobs in {elapsed:.1f} s", file=sys.stderr)
    if retention_s <= 60:  # the short run: one retention later
        time.sleep(retention_s + 1)
        client.store.purge()
    rows.append((-1, *memory(client)))
    client.redis.flushdb()
    return rows


def memory(client: ClusterClient) -> tuple[int, int]:
    return (int(client.redis.info("memory")["used_memory"]),
            len(client.redis.keys(f"{client.keys.prefix}:*")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--short-retention-s", type=int, default=2)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="tsp-retention-"))
    server = RedisServer(workdir)
    try:
        tables = {r: run(server.url, r, args.jobs, args.every)
                  for r in (DEFAULT_RETENTION_S, args.short_retention_s)}
    finally:
        server.kill()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\nRedis used_memory after N sequential small jobs (14 nodes), "
          f"{time.strftime('%Y-%m-%d')}\n")
    print("| jobs | retention 7 days: used_memory (keys) | "
          f"retention {args.short_retention_s} s: used_memory (keys) |")
    print("|---:|---:|---:|")
    for (n, mem_a, keys_a), (_, mem_b, keys_b) in zip(*tables.values(), strict=True):
        label = n if n > 0 else f"{args.short_retention_s + 1} s later"
        print(f"| {label} | {mem_a / 1e6:.2f} MB ({keys_a}) | {mem_b / 1e6:.2f} MB ({keys_b}) |")


if __name__ == "__main__":
    main()
