"""A real Prometheus scrapes a real coordinator and a real Celery worker while a job runs:
the job shows up in its counters and unit histogram, every dashboard expression evaluates,
and killing the only coordinator makes NoLeader go pending, then firing.

Everything is the test's own and on loopback: a redis-server, the processes, Prometheus
(temporary config and storage) on free ports. Prometheus applies new targets on a 5 s tick,
so the first samples take ~6 s; the bounds below are generous for a loaded machine.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest
import redis
import yaml
from obs_helpers import ALERTS, GRAFANA_DIR, promtool, tool
from processes import Service, free_port, wait_until

from tsp_celery.cluster.client import ClusterClient
from tsp_celery.cluster.job import JobParams
from tsp_celery.cluster.lease import read_leader
from tsp_celery.cluster.workers import live_workers
from tsp_celery.problem import load_problem
from tsp_celery.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]


class Stack:
    """redis-server, a worker and a coordinator exporting metrics, and a Prometheus."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.services: dict[str, Service] = {}
        ports = {name: free_port() for name in ("redis", "worker", "coord", "prom", "exporter")}
        self.ports = ports
        self.url = f"redis://127.0.0.1:{ports['redis']}/0"
        self.env = {**os.environ, "TSP_CELERY_REDIS_URL": self.url, "TSP_CELERY_PREFIX": "obs",
                    "TSP_CELERY_HEARTBEAT_TTL_S": "3", "PYTHONUNBUFFERED": "1"}
        self.prometheus = f"http://127.0.0.1:{ports['prom']}"

    def start_redis(self) -> redis.Redis:
        self.run("redis", ["redis-server", "--port", str(self.ports["redis"]), "--bind",
                            "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
                            str(self.tmp)])
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        wait_until(client.ping, 15, "redis-server")
        return client

    def start(self) -> None:
        client = self.start_redis()
        multiproc = self.tmp / "multiproc"
        multiproc.mkdir()
        self.run("worker", [sys.executable, "-m", "celery", "-A", "tasks", "worker", "-P",
                             "prefork", "-c", "1", "-n", "wobs@%h", "-Q", "solve,merge", "-l",
                             "info", "--without-gossip", "--without-mingle"],
                  {"PROMETHEUS_MULTIPROC_DIR": str(multiproc), "TSP_CELERY_LOG_FORMAT": "json",
                   "TSP_CELERY_WORKER_METRICS_PORT": str(self.ports["worker"]),
                   "TSP_CELERY_WORKER_METRICS_ADDR": "127.0.0.1"})
        self.run("coordinator", [sys.executable, "-m", "tsp_celery", "coordinator",
                                  "--node-id", "cobs", "--metrics-port", str(self.ports["coord"]),
                                  "--metrics-addr", "127.0.0.1", "--log-format", "json"])
        self.start_prometheus({"tsp-celery-coordinator": self.ports["coord"],
                               "tsp-celery-worker": self.ports["worker"]}, {"NoLeader": "5s"})
        keys = ClusterClient(Settings.from_env(self.env), redis=client).keys
        wait_until(lambda: live_workers(client, keys), 60, f"a worker\n{self.logs()}")
        wait_until(lambda: read_leader(client, keys), 60, f"a leader\n{self.logs()}")
        client.close()

    def start_prometheus(self, jobs: dict[str, int], waits: dict[str, str]) -> None:
        """Scrape ``jobs`` (name -> port on loopback) every second with the shipped rules,
        the `for:` of the alerts in ``waits`` shortened."""
        rules = yaml.safe_load(ALERTS.read_text())
        for rule in rules["groups"][0]["rules"]:
            if rule.get("alert") in waits:
                rule["for"] = waits[rule["alert"]]
        (self.tmp / "alerts.yml").write_text(yaml.safe_dump(rules))
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": ["alerts.yml"],
            "scrape_configs": [{"job_name": name,
                                "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
                               for name, port in jobs.items()]}
        path = self.tmp / "prometheus.yml"
        path.write_text(yaml.safe_dump(config))
        check = promtool("check", "config", str(path), cwd=self.tmp)
        assert check.returncode == 0, check.stdout + check.stderr
        self.run("prometheus", [tool("prometheus"), f"--config.file={path}",
                                 f"--storage.tsdb.path={self.tmp / 'tsdb'}",
                                 f"--web.listen-address=127.0.0.1:{self.ports['prom']}",
                                 "--log.level=warn"])
        wait_until(lambda: self._get("/-/ready") is not None, 30, "Prometheus ready")

    def run(self, name: str, argv: list[str], env: dict | None = None) -> None:
        self.services[name] = Service(name, argv, {**self.env, **(env or {})},
                                      self.tmp / f"{name}.log")

    def _get(self, path: str, **params: str) -> dict | None:
        url = f"{self.prometheus}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = response.read()
        except OSError:
            return None
        return json.loads(body) if path.startswith("/api") else {}

    def query(self, expr: str) -> list[dict]:
        reply = self._get("/api/v1/query", query=expr)
        assert reply is not None and reply["status"] == "success", (expr, reply)
        return reply["data"]["result"]

    def value(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None

    def alert(self, name: str) -> dict | None:
        """The active alert ``name`` (labels, state, activeAt), or None."""
        reply = self._get("/api/v1/alerts")
        alerts = [a for a in (reply or {}).get("data", {}).get("alerts", [])
                  if a["labels"]["alertname"] == name]
        return alerts[0] if alerts else None

    def stop(self) -> None:
        for service in reversed(list(self.services.values())):
            service.stop(grace_s=5)

    def logs(self) -> str:
        return "\n".join(s.tail() for s in self.services.values())


@pytest.fixture
def stack(tmp_path):
    s = Stack(tmp_path)
    try:
        s.start()
        yield s
    finally:
        s.stop()


def _dashboard_expressions() -> list[str]:
    dashboard = json.loads((GRAFANA_DIR / "dashboards" / "tsp-celery.json").read_text())
    return [t["expr"].replace("$__rate_interval", "1m")
            for p in dashboard["panels"] for t in p["targets"]]


def test_prometheus_sees_the_job_and_fires_no_leader(stack, examples_dir):
    client = ClusterClient(Settings.from_env(stack.env))
    job_id = client.submit(load_problem(examples_dir / "berlin52.tsp"), JobParams(time_s=3))
    wait_until(lambda: client.status(job_id)["status"] == "done", 90,
               f"job {job_id} done\n{stack.logs()}", poll_s=0.2)

    wait_until(lambda: stack.value("max(tsp_celery_jobs_completed_total)") == 1, 60,
               f"jobs_completed_total == 1 in Prometheus\n{stack.logs()}", poll_s=0.5)
    wait_until(lambda: (stack.value("sum(tsp_celery_unit_duration_seconds_count)") or 0) >= 1,
               60, "unit runtime samples in Prometheus", poll_s=0.5)
    assert stack.value("max(tsp_celery_jobs_submitted_total)") == 1
    # the worker's own count and the event totals agree (once both targets were scraped after
    # the job's last unit)
    wait_until(lambda: stack.value('sum(tsp_celery_worker_units_total{outcome="succeeded"})')
               == stack.value("max(tsp_celery_units_succeeded_total)") >= 1, 30,
               "worker and event-log unit counts to agree", poll_s=0.5)
    assert stack.value('max(tsp_celery_coordinator_is_leader{node="cobs"})') == 1
    # the leader's own hooks: every closed round timed, at least one unit per planned round
    wait_until(lambda: stack.value("sum(tsp_celery_round_duration_seconds_count)")
               == stack.value("max(tsp_celery_rounds_merged_total)") >= 1, 30,
               "round timings for every merged round", poll_s=0.5)
    assert (stack.value("max(tsp_celery_units_dispatched_total)")
            >= stack.value("max(tsp_celery_rounds_planned_total)") >= 1)
    for expr in _dashboard_expressions():  # every panel's query evaluates (parses) for real
        stack.query(expr)
    assert stack.alert("NoLeader") is None

    coordinator = _json_lines(stack.services["coordinator"].log())
    done = [x for x in coordinator if x["event"] == "done" and x["job"] == job_id]
    assert done and done[0]["node"] == "cobs" and done[0]["term"] == 1
    worker = _json_lines(stack.services["worker"].log())
    assert any(x["event"] == "unit_finished" and x["job"] == job_id for x in worker)

    stack.services["coordinator"].signal(signal.SIGKILL)  # the leader, and no standby
    pending = wait_until(lambda: (a := stack.alert("NoLeader")) and a["state"] == "pending"
                         and a, 60, f"NoLeader pending\n{stack.logs()}", poll_s=0.2)
    firing = wait_until(lambda: (a := stack.alert("NoLeader")) and a["state"] == "firing"
                        and a, 60, "NoLeader firing", poll_s=0.2)
    # the same alert, pending since activeAt, fired only once its `for:` had passed
    assert firing["activeAt"] == pending["activeAt"]
    active_at = datetime.fromisoformat(firing["activeAt"].replace("Z", "+00:00")).timestamp()
    assert time.time() - active_at >= 5 - 1  # its `for:` here is 5 s (see Stack.start)


def _json_lines(text: str) -> list[dict]:
    """The JSON log lines of a process (Celery's start banner is plain text)."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.fixture
def redis_stack(tmp_path):
    s = Stack(tmp_path)
    try:
        yield s
    finally:
        s.stop()


def test_redis_memory_high_fires_from_the_real_redis_exporter(redis_stack):
    """The rule reads series the Redis exporter really exports: with maxmemory just above
    what Redis uses, RedisMemoryHigh fires; the ratio Prometheus computes is Redis's own."""
    stack = redis_stack
    client = stack.start_redis()
    client.set("filler", b"x" * 200_000)
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory", str(int(used * 1.1)))
    stack.run("exporter", [tool("prometheus-redis-exporter"), "-redis.addr", stack.url,
                            "-web.listen-address", f"127.0.0.1:{stack.ports['exporter']}"])
    stack.start_prometheus({"redis": stack.ports["exporter"]}, {"RedisMemoryHigh": "2s"})
    firing = wait_until(lambda: (a := stack.alert("RedisMemoryHigh")) and a["state"] == "firing"
                        and a, 60, f"RedisMemoryHigh firing\n{stack.logs()}", poll_s=0.5)
    assert 0.8 < float(firing["value"]) <= 1.0
    client.config_set("maxmemory", "0")  # no limit: the ratio has no sample, the alert ends
    wait_until(lambda: stack.alert("RedisMemoryHigh") is None, 60, "RedisMemoryHigh resolved",
               poll_s=0.5)
    client.close()
