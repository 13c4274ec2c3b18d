"""Worker metrics in prometheus_client's multiprocess mode, served by the worker's main process.

Celery's prefork children each write their samples to files in ``PROMETHEUS_MULTIPROC_DIR``;
the main process merges the files on every scrape. One port per worker (not one per child),
totals that survive a recycled or killed child, and nothing lost when a child is replaced.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, multiprocess, start_http_server
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from tsp_celery.errors import TspCeleryError
from tsp_celery.metrics import instruments as m

PORT_ENV = "TSP_CELERY_WORKER_METRICS_PORT"
DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

# task id -> (monotonic start, unit kind) of the units this process runs now.
_started: dict[str, tuple[float, str]] = {}


def configured_port(env: dict | None = None) -> int | None:
    """The exporter's port from the environment, None when worker metrics are off."""
    env = os.environ if env is None else env
    raw = env.get(PORT_ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise TspCeleryError(f"{PORT_ENV} must be a TCP port, got {raw!r}")
    if not env.get(DIR_ENV):
        raise TspCeleryError(f"{PORT_ENV} needs {DIR_ENV}: an empty directory of this worker's "
                             "own, set before the worker starts (ops/bin/tsp-celery-worker "
                             "makes one)")
    return int(raw)


def wipe(directory: str) -> None:
    """Remove the files of an earlier run (dead pids' totals would be added to ours), but not
    this process's: it opened them at import, and with the threads or gevent pool its units
    are counted in them (unlinked, they would never reach a scrape)."""
    ours = f"_{os.getpid()}"
    for path in Path(directory).glob("*.db"):
        if not path.stem.endswith(ours):
            path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SweptMultiProcessCollector(Collector):
    """Merge the directory's files, first forgetting live-gauges of children that died without
    running their shutdown hook (SIGKILL): else a killed unit stays "in progress" forever."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.inner = multiprocess.MultiProcessCollector(None, path=directory)
        # Every process writes all instruments; only the workers' ones mean anything here.
        self.names = {family.name for family in m.WORKER.collect()}

    def collect(self) -> Iterator[Metric]:
        for path in Path(self.directory).glob("gauge_live*_*.db"):
            pid = path.stem.rpartition("_")[2]
            if pid.isdigit() and not _alive(int(pid)):
                multiprocess.mark_process_dead(int(pid), self.directory)
        return (f for f in self.inner.collect() if f.name in self.names)


def serve(port: int, addr: str = "0.0.0.0") -> None:
    """Serve the merged worker metrics from this (the worker's main) process."""
    registry = CollectorRegistry()
    registry.register(SweptMultiProcessCollector(os.environ[DIR_ENV]))
    start_http_server(port, addr=addr, registry=registry)


# -- what the Celery signal handlers in tasks/task_metrics.py call (in the prefork child) ----------
def unit_started(task_id: str, kind: str, redelivered: bool) -> None:
    _started[task_id] = (time.monotonic(), kind)
    m.units_in_progress.inc()
    if redelivered:
        m.units_redelivered.inc()


def unit_ended(task_id: str, retval: object, succeeded: bool) -> None:
    """Outcome, wall time, solver vs overhead time and memory of one solve_unit task."""
    started, kind = _started.pop(task_id, (None, "unknown"))
    m.units_in_progress.dec()
    summary = retval if isinstance(retval, dict) else {}
    if not succeeded:
        outcome = "error"
    elif summary.get("skipped"):
        outcome = "skipped"
    else:
        outcome = "succeeded" if summary.get("ok") else "failed"
    m.unit_outcomes.labels(outcome).inc()
    if started is None or outcome == "skipped":
        return
    wall = time.monotonic() - started
    solver = min(float(summary.get("elapsed_s") or 0.0), wall)
    m.unit_seconds.labels(kind).observe(wall)
    m.unit_solver_seconds.labels(kind).inc(solver)
    m.unit_overhead_seconds.labels(kind).inc(wall - solver)
    m.unit_peak_rss_bytes.labels(kind).observe(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)  # KiB on Linux


def merge_started(task_id: str) -> None:
    _started[task_id] = (time.monotonic(), "merge")


def merge_ended(task_id: str) -> None:
    started, _ = _started.pop(task_id, (None, ""))
    if started is not None:
        m.merge_seconds.labels("chord").observe(time.monotonic() - started)


def process_exited(pid: int) -> None:
    if os.environ.get(DIR_ENV):
        multiprocess.mark_process_dead(pid)
