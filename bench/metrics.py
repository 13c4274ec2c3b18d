#!/usr/bin/env python
"""Scrape cost of the metrics: a coordinator's /metrics at N active jobs, and a worker's merged
multiprocess view after its prefork children ran units.

The coordinator side runs against a redis-server of its own (free port, temp dir) filled with
N running jobs (best tour, event log of E entries each), Q queued jobs, W live workers and
queued Celery messages; each scrape is what Prometheus would get (generate_latest). Prints ms
per scrape (median and p95), the bytes and the number of series and metric names.

    python bench/metrics.py                         # 100 active jobs, 50 scrapes
    python bench/metrics.py --jobs 500 --events 200
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import redis
from prometheus_client import CollectorRegistry, generate_latest

from tsp_celery.cluster.client import ClusterClient
from tsp_celery.cluster.events import EventType
from tsp_celery.cluster.job import JobParams
from tsp_celery.cluster.lease import LeaderLease
from tsp_celery.cluster.workers import beat
from tsp_celery.metrics.exporter import coordinator_registry
from tsp_celery.problem import load_problem
from tsp_celery.settings import Settings

REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _timed(registry: CollectorRegistry, scrapes: int) -> tuple[list[float], bytes]:
    times, body = [], b""
    for _ in range(scrapes):
        start = time.perf_counter()
        body = generate_latest(registry)
        times.append((time.perf_counter() - start) * 1000)
    return times, body


def _report(what: str, times: list[float], body: bytes) -> None:
    lines = [x for x in body.decode().splitlines() if x and not x.startswith("#")]
    names = {x.split()[2] for x in body.decode().splitlines() if x.startswith("# TYPE")}
    p95 = sorted(times)[max(0, int(0.95 * len(times)) - 1)]
    print(f"{what:<44}{statistics.median(times):>9.2f}{p95:>9.2f}{len(body):>9}"
          f"{len(lines):>8}{len(names):>7}")


def coordinator_side(url: str, jobs: int, queued: int, events: int, workers: int,
                     scrapes: int) -> None:
    settings = Settings.from_env({"TSP_CELERY_REDIS_URL": url, "TSP_CELERY_PREFIX": "bench"})
    client = ClusterClient(settings, redis=redis.Redis.from_url(url))
    problem = load_problem(REPO / "examples" / "berlin52.tsp")
    lease = LeaderLease(client.redis, client.keys, "c1", 0, 600_000, 1000)
    assert lease.try_acquire()
    tour = np.arange(problem.n, dtype=np.int32)
    for i in range(jobs + queued):
        job_id = client.submit(problem, JobParams(time_s=600))
        if i < jobs:
            client.store.admit(job_id, lease.fence, "c1")
            client.store.commit_best(job_id, tour, problem.tour_length(tour), 1, 1.0, False, "b")
            for e in range(events):
                client.events.append(job_id, EventType.UNIT_FINISHED, "w", e + 2, {})
    for w in range(workers):
        beat(client.redis, client.keys, f"w{w}@bench", {"slots": 8}, 600)
    client.redis.rpush("bench:celery:solve", *[b"m"] * 50)
    registry = coordinator_registry(client.redis, client.keys, "c1", lambda: lease.is_leader)
    times, body = _timed(registry, scrapes)
    _report(f"coordinator, {jobs} active jobs ({events} events each)", times, body)


_CHILDREN = """
import os, sys
from tsp_celery.metrics import worker
for k in range(int(sys.argv[1])):
    if os.fork() == 0:
        for u in range(int(sys.argv[2])):
            worker.unit_started(f"t{u}", ("island", "segment", "union")[u % 3], False)
            worker.unit_ended(f"t{u}", {"ok": True, "elapsed_s": 0.5}, True)
        os._exit(0)
    os.wait()
"""


def worker_side(processes: int, units: int, scrapes: int) -> None:
    from tsp_celery.metrics.worker import SweptMultiProcessCollector

    directory = tempfile.mkdtemp(prefix="bench-metrics-")
    try:
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": directory}
        subprocess.run([sys.executable, "-c", _CHILDREN, str(processes), str(units)], env=env,
                       check=True, timeout=120)
        registry = CollectorRegistry()
        registry.register(SweptMultiProcessCollector(directory))
        times, body = _timed(registry, scrapes)
        _report(f"worker, {processes} processes' files", times, body)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=100, help="running jobs")
    ap.add_argument("--queued", type=int, default=20, help="queued jobs")
    ap.add_argument("--events", type=int, default=50, help="event-log entries per running job")
    ap.add_argument("--workers", type=int, default=10, help="live workers (heartbeats)")
    ap.add_argument("--processes", type=int, default=8, help="worker processes (files)")
    ap.add_argument("--scrapes", type=int, default=50)
    args = ap.parse_args()
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="bench-redis-")
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                               "--save", "", "--appendonly", "no", "--dir", workdir],
                              stdout=subprocess.DEVNULL)
    try:
        url = f"redis://127.0.0.1:{port}/0"
        probe = redis.Redis.from_url(url)
        for _ in range(100):
            try:
                probe.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        print(f"{'scrape of':<44}{'p50 ms':>9}{'p95 ms':>9}{'bytes':>9}{'series':>8}"
              f"{'names':>7}")
        coordinator_side(url, args.jobs, args.queued, args.events, args.workers, args.scrapes)
        worker_side(args.processes, 30, args.scrapes)
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
