"""Celery's own floor under bench/scale.py: round-shaped sleep tasks with no tsp-celery logic.

The same Celery configuration as the cluster (``make_app``: acks late, prefetch 1, task events,
extended results), the same worker layout (``-P threads`` or ``--pool gevent``, 250 slots a
process), but a unit is
a bare ``time.sleep`` that returns its start and end walls, and a round's close is an empty
chord body. ``--jobs`` driver threads each run ``--rounds`` rounds of ``slots / jobs`` units:
publish the chord, wait for its body's result, publish the next. What this measures is what
Celery, Redis and this machine cost a round before any of our code runs: slot utilisation
and dispatch latency here bound what bench/scale.py can reach on the same machine. With
``--stream`` every unit is queued at once (no rounds): the pool's own ceiling.

Usage:

    python bench/celery_floor.py --slots 500 --jobs 10 --unit-s 10 --rounds 3
    python bench/celery_floor.py --slots 500 --jobs 10 --unit-s 10 --rounds 3 --no-task-events
    python bench/celery_floor.py --slots 500 --jobs 10 --unit-s 10 --rounds 3 --stream
    python bench/celery_floor.py --slots 500 --jobs 10 --unit-s 10 --rounds 3 --pool gevent
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
from celery import chord

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pools import THREADS_PER_WORKER, add_pool_option  # noqa: E402

from tsp_celery.cluster.celery_config import MERGE_QUEUE, SOLVE_QUEUE, make_app  # noqa: E402
from tsp_celery.settings import Settings  # noqa: E402

# --no-task-events: the project's configuration less its monitoring traffic (the workers read
# it from this variable at import)
NO_EVENTS_ENV = "CELERY_FLOOR_NO_TASK_EVENTS"
NO_EVENTS = {"worker_send_task_events": False, "task_send_sent_event": False,
             "task_track_started": False, "result_extended": False}

NAP_TASK, CLOSED_TASK = "floor.nap", "floor.closed"

app = make_app(Settings.from_env(), name="celery_floor")
app.conf.task_routes = {NAP_TASK: {"queue": SOLVE_QUEUE}, CLOSED_TASK: {"queue": MERGE_QUEUE}}
if os.environ.get(NO_EVENTS_ENV):
    app.conf.update(NO_EVENTS)


@app.task(name=NAP_TASK)
def nap(seconds: float) -> list[float]:
    """A unit that only sleeps: [started, finished] walls."""
    started = time.time()
    time.sleep(seconds)
    return [started, time.time()]


@app.task(name=CLOSED_TASK)
def closed(spans: list) -> list:
    """An empty round close: hands the units' spans back."""
    return spans


def run_job(unit_s: float, units: int, rounds: int, out: list) -> None:
    """One job: its rounds one after the other, each published once the last one closed."""
    for _ in range(rounds):
        planned = time.time()
        spans = chord([nap.s(unit_s) for _ in range(units)])(closed.s()).get(timeout=600)
        out.append((planned, spans))


def measure(slots: int, jobs: int, unit_s: float, rounds: int, stream: bool,
            pool: str = "threads") -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    from processes import RedisServer, Service  # test helpers: a private redis-server

    workdir = Path(tempfile.mkdtemp(prefix="tsp-floor-"))
    server = RedisServer(workdir, appendonly=False)
    env = {**os.environ, "TSP_CELERY_REDIS_URL": server.url, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "bench"), str(ROOT)])}
    app.conf.update(broker_url=server.url, result_backend=server.url)
    workers, left = [], slots
    try:
        while left > 0:
            threads = min(left, THREADS_PER_WORKER)
            name = f"f{len(workers)}"
            workers.append(Service(name, [
                sys.executable, "-m", "celery", "-A", "celery_floor", "worker", "-P", pool,
                "-c", str(threads), "-n", f"{name}@%h", "-Q", f"{SOLVE_QUEUE},{MERGE_QUEUE}",
                "-l", "warning", "--without-gossip", "--without-mingle"], env,
                workdir / f"{name}.log"))
            left -= threads
        deadline = time.monotonic() + 120
        while len(app.control.ping(timeout=1.0) or []) < len(workers):
            if time.monotonic() > deadline:
                raise TimeoutError("floor workers did not answer")
        units = slots // jobs
        procs = [psutil.Process(w.pid) for w in workers]
        cpu0 = sum(_cpu_s(p) for p in procs)
        results: list = []
        if stream:
            planned = time.time()
            handles = [nap.delay(unit_s) for _ in range(units * jobs * rounds)]
            results = [(planned, [h.get(timeout=600) for h in handles])]
        else:
            threads = [threading.Thread(target=run_job, args=(unit_s, units, rounds, results))
                       for _ in range(jobs)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        worker_cpu = sum(_cpu_s(p) for p in procs) - cpu0
        out = figures(results, slots)
        return {**out, "worker_ms_unit": 1000 * worker_cpu / out["units"]}
    finally:
        for w in workers:
            w.stop()
        server.kill()
        shutil.rmtree(workdir, ignore_errors=True)


def _cpu_s(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def figures(results: list, slots: int) -> dict:
    spans = [s for _, round_spans in results for s in round_spans]
    window = max(e for _, e in spans) - min(s for s, _ in spans)
    dispatch = [s - planned for planned, round_spans in results for s, _ in round_spans]
    return {"units": len(spans), "util": sum(e - s for s, e in spans) / (slots * window),
            "dispatch": f"{np.percentile(dispatch, 50):.2f} / {np.percentile(dispatch, 99):.2f}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slots", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--unit-s", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-task-events", action="store_true",
                        help="without task events, STARTED states or extended results")
    parser.add_argument("--stream", action="store_true",
                        help="queue every unit at once (no rounds): the pool's own ceiling")
    add_pool_option(parser)
    args = parser.parse_args()
    if args.no_task_events:
        os.environ[NO_EVENTS_ENV] = "1"
        app.conf.update(NO_EVENTS)
    r = measure(args.slots, args.jobs, args.unit_s, args.rounds, args.stream, args.pool)
    shape = "stream" if args.stream else f"{args.rounds} rounds"
    shape += ", no task events" if args.no_task_events else ""
    shape += ", gevent" if args.pool == "gevent" else ""
    print(f"| {args.slots} | {args.jobs} | {args.unit_s:g} | {shape} | {r['units']} "
          f"| {r['util']:.0%} | {'-' if args.stream else r['dispatch']} "
          f"| {r['worker_ms_unit']:.1f} |")


if __name__ == "__main__":
    main()
