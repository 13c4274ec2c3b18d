"""Chaos harness: a test-owned redis-server (AOF on) and real coordinator/worker processes.

Every test gets its own Redis on a free port in a private dir, so it may kill or restart it
without touching anyone else's data; every process it starts runs in its own session and is
SIGKILLed (whole process group) at teardown, whatever the test did. Also used by
``bench/takeover.py``; the fixtures are in ``conftest.py``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from processes import RedisServer, Service, wait_until

from tsp_celery.cluster.client import ClusterClient
from tsp_celery.cluster.events import Event, EventLog, EventType
from tsp_celery.cluster.job import JobParams
from tsp_celery.cluster.keys import Keys
from tsp_celery.cluster.lease import read_leader
from tsp_celery.problem import Problem, load_problem
from tsp_celery.settings import Settings

DATA = Path(__file__).parent.parent / "data"

PREFIX = "chaos"
# Short leases so a takeover fits a test: a standby waits about one TTL after the leader dies.
LEASE_TTL_MS = 1500
LEASE_RENEW_MS = 300
HEARTBEAT_TTL_S = 3.0


class Cluster:
    """Coordinators and Celery workers of one test, all on the test's own Redis."""

    def __init__(self, server: RedisServer, tmp_path: Path) -> None:
        self.server = server
        self.tmp_path = tmp_path
        self.keys = Keys(PREFIX)
        self.env = {
            **os.environ,
            "TSP_CELERY_REDIS_URL": server.url,
            "TSP_CELERY_PREFIX": PREFIX,
            "TSP_CELERY_LEASE_TTL_MS": str(LEASE_TTL_MS),
            "TSP_CELERY_LEASE_RENEW_MS": str(LEASE_RENEW_MS),
            "TSP_CELERY_HEARTBEAT_TTL_S": str(HEARTBEAT_TTL_S),
            "PYTHONUNBUFFERED": "1",
        }
        self.procs: list[Service] = []
        self.redis = redis.Redis.from_url(server.url, socket_connect_timeout=1,
                                          socket_timeout=5, retry_on_timeout=True)
        self.events = EventLog(self.redis, self.keys)
        self.client = ClusterClient(Settings.from_env(self.env), redis=self.redis)
        self.store = self.client.store

    def _start(self, name: str, argv: list[str]) -> Service:
        proc = Service(name, argv, self.env, self.tmp_path / f"{name}.log")
        self.procs.append(proc)
        return proc

    def coordinator(self, node_id: str, priority: int = 0, *options: str) -> Service:
        return self._start(node_id, [sys.executable, "-m", "tsp_celery", "-v", "coordinator",
                                     "--node-id", node_id, "--priority", str(priority),
                                     *options])

    def worker(self, name: str, concurrency: int = 1) -> Service:
        return self._start(name, [sys.executable, "-m", "celery", "-A", "tasks", "worker",
                                  "-c", str(concurrency), "-n", f"{name}@%h", "-l", "info",
                                  "--without-gossip", "--without-mingle"])

    def cli(self, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "tsp_celery", *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout_s)

    def leader(self) -> dict | None:
        return read_leader(self.redis, self.keys)

    def job(self, job_id: str) -> dict:
        raw = self.redis.hgetall(self.keys.job(job_id))
        return {k.decode(): v.decode() for k, v in raw.items()}

    def wait_for_leader(self, timeout_s: float = 20, not_node: str | None = None) -> dict:
        def check():
            info = self.leader()
            return info if info and info["node_id"] != not_node else None
        return wait_until(check, timeout_s, "a leader" + (f" other than {not_node}"
                                                          if not_node else ""))

    def wait_for_workers(self, count: int, timeout_s: float = 60) -> None:
        from tsp_celery.cluster.workers import live_workers
        wait_until(lambda: len(live_workers(self.redis, self.keys)) >= count, timeout_s,
                   f"{count} live workers")

    def wait_final(self, job_id: str, timeout_s: float) -> dict:
        return wait_until(
            lambda: (rec := self.job(job_id)).get("status") in ("done", "failed", "cancelled")
            and rec, timeout_s, f"job {job_id} to end")

    def submit(self, name: str, time_s: float, **params: object) -> tuple[str, Problem]:
        """Queue tests/data/<name>.tsp (as a client would) and return (job id, problem)."""
        problem = load_problem(DATA / f"{name}.tsp")
        return self.client.submit(problem, JobParams(time_s=time_s, **params)), problem

    def wait_round(self, job_id: str, round_no: int, timeout_s: float = 60) -> dict:
        """Wait until ``round_no`` is planned and one of its units has started."""
        def started():
            return any(e.type is EventType.UNIT_STARTED and e.data.get("round") == round_no
                       for e in self.events.read(job_id)) and self.job(job_id)
        return wait_until(started, timeout_s, f"a unit of round {round_no} of {job_id} running")

    def check_done(self, job_id: str, problem: Problem, timeout_s: float = 90) -> dict:
        """Wait for the end; the job must be done with a valid best tour of the recorded length."""
        rec = self.wait_final(job_id, timeout_s)
        assert rec["status"] == "done", (rec, self.logs())
        tour = self.store.best_tour(job_id)
        problem.validate_tour(tour)
        assert problem.tour_length(tour) == pytest.approx(float(rec["best_length"]))
        return rec

    def logs(self) -> str:
        return "\n".join(f"----- {p.name} -----\n{p.log()[-4000:]}" for p in self.procs)

    def stop(self) -> None:
        for proc in self.procs:
            proc.stop()
        self.redis.close()


def lost_unit_seconds(store, job_id: str) -> float:
    """Planned unit-seconds of units that never reported before their round was closed."""
    lost = 0.0
    for entry in store.rounds(job_id).values():
        plan, merged = entry.get("plan"), entry.get("merged")
        if not plan or not merged:
            continue
        budgets = {u["unit_id"]: float(u["budget_s"]) for u in plan["plan"]["units"]}
        lost += sum(budgets.get(u, 0.0) for u in merged.get("missing", []))
    return round(lost, 3)


def figure(request, **values: object) -> None:
    """Keep a measured figure with the test report (``-rA`` / junit) and print it."""
    for name, value in values.items():
        request.node.user_properties.append((name, value))
    print(f"FIGURES {request.node.name}: {values}")


def causal_violations(events: list[Event]) -> list[str]:
    """Units of merged rounds whose planned < started < finished < merged order is broken."""
    planned, started, finished, merged = {}, {}, {}, {}
    for e in events:
        r = e.data.get("round")
        if e.type is EventType.ROUND_PLANNED:
            for unit in e.data.get("units", []):
                planned[(r, unit)] = e.lamport
        elif e.type is EventType.UNIT_STARTED:
            started.setdefault((r, e.data.get("unit")), e.lamport)  # first delivery
        elif e.type is EventType.UNIT_FINISHED:
            finished[(r, e.data.get("unit"))] = e.lamport
        elif e.type is EventType.ROUND_MERGED:
            for unit in e.data.get("received", []):
                merged[(r, unit)] = e.lamport
    bad = []
    for key, m in merged.items():
        chain = [planned.get(key), started.get(key), finished.get(key), m]
        if None in chain or not chain[0] < chain[1] < chain[2] < chain[3]:
            bad.append(f"unit {key}: planned/started/finished/merged = {chain}")
    if not merged:
        bad.append("no round was merged")
    return bad


PHANTOM_WORKER = "phantom@test"


def active_jobs_without_workers(cluster: Cluster, count: int, events_per_job: int = 0,
                                name: str = "burma14") -> list[str]:
    """``count`` jobs admitted with their first round planned but no unit running: a phantom
    worker heartbeat offers slots, so the rounds wait in the broker. Each job's log gets
    ``events_per_job`` filler events, as long jobs accumulate. The leader must have been
    started with ``--max-active`` >= count; ``forget`` the phantom afterwards."""
    from tsp_celery.cluster.workers import beat

    beat(cluster.redis, cluster.keys, PHANTOM_WORKER, {"slots": 2}, ttl_s=600)
    jobs = [cluster.submit(name, time_s=120)[0] for _ in range(count)]
    wait_until(lambda: all(cluster.job(j).get("round") == "1" for j in jobs), 60 + count,
               f"all {count} jobs admitted with round 1 planned")
    for job_id in jobs:
        stream = cluster.keys.job_events(job_id)
        pipe = cluster.redis.pipeline(transaction=False)
        for i in range(events_per_job):
            pipe.xadd(stream, {"type": EventType.UNIT_STARTED.value, "node": "worker:old",
                               "lamport": i + 1, "wall": f"{time.time():.6f}",
                               "data": '{"round": 0}'})
        pipe.execute()
    return jobs


def recovery_lines(log: str) -> list[str]:
    """The 'recovered N job(s) in X s' lines of a coordinator's log (one per recovery pass)."""
    return re.findall(r"recovered \d+ job\(s\) in [\d.]+ s", log)
