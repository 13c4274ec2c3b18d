"""Procfile: its process types run real entry points, and `honcho start` gives a working cluster.

The end-to-end test starts the whole Procfile with honcho against the machine's Redis (db 13
through the ``redis_url`` fixture, plus a key prefix of its own, so that its Celery queues and
keys collide with nothing), solves berlin52 through the CLI, then stops honcho as a supervisor
would: one SIGTERM to honcho, which forwards it to every process. (A SIGTERM to the whole group
reaches each process twice, once directly and once from honcho; Flower's own handler then raises
SystemExit inside its atexit cleanup and can hang until honcho's SIGKILL, a Flower issue.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid

import psutil
import pytest
from deploy_helpers import ROOT, check_entry_point
from honcho.environ import parse_procfile
from processes import free_port

from tsp_celery.health import check_health
from tsp_celery.problem import load_problem
from tsp_celery.settings import Settings

PROCFILE = ROOT / "Procfile"


def processes() -> dict[str, str]:
    return parse_procfile(PROCFILE.read_text()).processes


def test_process_types():
    assert set(processes()) == {"coordinator", "standby", "worker", "flower", "gateway"}


@pytest.mark.timeout(60)
def test_every_line_runs_an_entry_point(resolve):
    seen = {}
    for name, line in processes().items():
        assert line.startswith("exec "), f"{name}: exec, so honcho's signals reach the program"
        argv = resolve(line, env={"TSP_CELERY_WORKER_CONCURRENCY": ""})
        check_entry_point(argv)
        if argv[1] == "coordinator":
            seen[argv[argv.index("--node-id") + 1]] = argv[argv.index("--priority") + 1]
    assert len(seen) == 2 and len(set(seen.values())) == 2, "two coordinators, distinct"


def ours(marker: str) -> list[psutil.Process]:
    """Live processes started with our unique prefix in their environment."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("TSP_CELERY_PREFIX") == marker and proc.status() != "zombie":
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def wait_healthy(settings: Settings, honcho: subprocess.Popen, log_path, timeout_s: float):
    deadline = time.monotonic() + timeout_s
    report = None
    while time.monotonic() < deadline:
        assert honcho.poll() is None, f"honcho exited early:\n{log_path.read_text()[-3000:]}"
        report = check_health(settings, "any", min_workers=1, timeout_s=1.0)
        if report.ok:
            return report
        time.sleep(0.5)
    raise AssertionError(f"cluster not healthy: {report.reason}\n{log_path.read_text()[-3000:]}")


@pytest.mark.integration
@pytest.mark.timeout(150)
def test_honcho_start_then_solve_on_the_cluster(redis_url, tmp_path, examples_dir):
    prefix = f"procfile-{uuid.uuid4().hex[:10]}"
    flower_port = free_port()
    env = {**os.environ, "TSP_CELERY_REDIS_URL": redis_url, "TSP_CELERY_PREFIX": prefix,
           "TSP_CELERY_WORKER_CONCURRENCY": "1", "FLOWER_PORT": str(flower_port),
           "GATEWAY_PORT": str(free_port()), "PYTHONUNBUFFERED": "1"}
    log_path = tmp_path / "honcho.log"
    with open(log_path, "w") as log:
        honcho = subprocess.Popen([sys.executable, "-m", "honcho", "start", "-f", str(PROCFILE),
                                   "-d", str(ROOT)], env=env, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        settings = Settings.from_env(env)
        report = wait_healthy(settings, honcho, log_path, timeout_s=60)
        assert report.leader["node_id"] in ("coord-a", "coord-b")

        instance = examples_dir / "berlin52.tsp"
        proc = subprocess.run([sys.executable, "-m", "tsp_celery", "solve", str(instance),
                               "--cluster", "--time", "3", "--json"], env=env,
                              capture_output=True, text=True, timeout=90)
        assert proc.returncode == 0, proc.stderr + log_path.read_text()[-3000:]
        result = json.loads(proc.stdout)
        problem = load_problem(instance)
        problem.validate_tour(result["tour"])
        assert problem.tour_length(result["tour"]) == result["length"]
        assert result["length"] <= 7542 * 1.05, "berlin52's optimum is 7542"

        job_id = result["stats"]["job_id"]
        status = subprocess.run([sys.executable, "-m", "tsp_celery", "status", job_id, "--json"],
                                env=env, capture_output=True, text=True, timeout=30)
        assert json.loads(status.stdout)["status"] == "done"

        with urllib.request.urlopen(f"http://127.0.0.1:{flower_port}/healthcheck",
                                    timeout=5) as response:
            assert response.read() == b"OK"
    finally:
        if honcho.poll() is None:
            honcho.send_signal(signal.SIGTERM)
        try:
            honcho.wait(timeout=30)
        finally:
            leftovers = ours(prefix)
            for proc in leftovers:
                proc.kill()
    log = log_path.read_text()
    assert "SIGKILL" not in log, f"a process ignored SIGTERM:\n{log[-3000:]}"
    for name in ("coordinator.1", "standby.1", "worker.1", "flower.1"):
        assert f"{name} stopped" in log
    assert not leftovers, [p.info for p in leftovers]
