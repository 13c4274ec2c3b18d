"""No password in argv, logs, errors or --json output; over-limit input exits 2.

A real redis-server whose password comes from a config file (as ops/ runs it), the real CLI as
subprocesses, and a real coordinator and Celery worker whose argv and logs are searched.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import redis

from tests.processes import Service, free_port, wait_until
from tsp_celery.cluster.admission import publish_limits
from tsp_celery.cluster.keys import Keys
from tsp_celery.settings import Settings

pytestmark = pytest.mark.timeout(120)

SECRET = "s3cr3t0a1b2c3d4e5f"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory):
    """redis-server on a free port, its password read from a config file (never argv)."""
    folder = tmp_path_factory.mktemp("redis")
    conf = folder / "redis.conf"
    conf.write_text(f"requirepass {SECRET}\nsave \"\"\nappendonly no\nbind 127.0.0.1\n")
    port = free_port()
    proc = subprocess.Popen(["redis-server", str(conf), "--port", str(port), "--dir",
                             str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port, password=SECRET)
    wait_until(lambda: client.ping(), 10, "redis-server")
    assert SECRET not in " ".join(psutil.Process(proc.pid).cmdline())
    yield port
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def env(redis_port) -> dict:
    client = redis.Redis(port=redis_port, password=SECRET)
    client.flushall()
    return {**os.environ, "PYTHONPATH": str(ROOT),
            "TSP_CELERY_REDIS_URL": f"redis://:{SECRET}@127.0.0.1:{redis_port}/0"}


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "tsp_celery", *args], env=env,
                         capture_output=True, text=True, timeout=60)
    assert SECRET not in out.stdout + out.stderr, (args, out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    return out


def test_cli_output_never_shows_the_password(env, examples_dir):
    job = cli(env, "submit", str(examples_dir / "berlin52.tsp"), "--time", "2", "--json")
    assert job.returncode == 0, job.stderr
    for args in (["jobs", "--json"], ["cluster", "--json"], ["health", "--json"],
                 ["health", "--role", "worker"], ["workers", "--json"]):
        cli(env, *args)
    assert cli(env, "-vv", "status", "nope", "--json").returncode == 2


@pytest.mark.parametrize("url, exit_code, says", [
    ("redis://:wrong{s}@127.0.0.1:{port}/0", 3, "authentication failed"),
    ("redis://:{s}@127.0.0.1:{free}/0", 3, "cannot reach Redis at redis://:***@127.0.0.1"),
    ("redis://:{s}@127.0.0.1:notaport/0", 3, "bad URL"),
    ("redis://127.0.0.1:{free}/0?password={s}", 3, "password=***"),
    ("http://:{s}@127.0.0.1:{port}/0", 2, "in TSP_CELERY_REDIS_URL (value not shown"),
])
def test_errors_never_echo_the_password(env, redis_port, url, exit_code, says):
    env = {**env, "TSP_CELERY_REDIS_URL": url.format(s=SECRET, port=redis_port,
                                                     free=free_port())}
    out = cli(env, "jobs")
    assert out.returncode == exit_code and says in out.stderr, out.stderr
    assert cli(env, "health").returncode != 0


def test_password_url_on_the_option_is_redacted_in_errors(env, redis_port):
    out = cli(env, "jobs", "--redis-url", f"redis://:{SECRET}@127.0.0.1:{free_port()}/0")
    assert out.returncode == 3 and "redis://:***@" in out.stderr


def test_over_limit_input_exits_2_from_the_client_and_from_the_cluster(env, redis_port,
                                                                        examples_dir):
    berlin = str(examples_dir / "berlin52.tsp")
    out = cli({**env, "TSP_CELERY_MAX_NODES": "20"}, "submit", berlin)
    assert out.returncode == 2 and "instance has 52 nodes, the limit is 20" in out.stderr
    client = redis.Redis(port=redis_port, password=SECRET)
    publish_limits(client, Keys(), Settings(max_nodes=30))  # as a coordinator started with it
    out = cli(env, "submit", berlin)
    assert out.returncode == 2 and "refused by the cluster: instance has 52 nodes" in out.stderr
    out = cli(env, "submit", berlin, "--time", "1e6")
    assert out.returncode == 2 and "max_job_seconds" in out.stderr
    assert client.keys("tspc:job*") == [] and client.keys("tspc:instance:*") == []


@pytest.mark.integration
def test_coordinator_and_worker_keep_the_password_out_of_argv_and_logs(env, tmp_path,
                                                                       examples_dir):
    launcher = ["sh", str(ROOT / "ops" / "bin" / "tsp-celery-worker"), "--concurrency", "1"]
    services = [Service("coordinator", [sys.executable, "-m", "tsp_celery", "-v",
                                        "coordinator", "--node-id", "c1"], env,
                        tmp_path / "coordinator.log"),
                Service("worker", launcher, {**env, "TSP_CELERY_WORKER_NAME": "w1@host"},
                        tmp_path / "worker.log")]
    try:
        out = cli(env, "solve", str(examples_dir / "burma14.tsp"), "--cluster", "--time", "3")
        assert out.returncode == 0, out.stderr
        for service in services:
            procs = [psutil.Process(service.pid), *service.children()]
            for proc in procs:
                assert SECRET not in " ".join(proc.cmdline()), service.name
                assert SECRET not in " ".join(proc.cmdline())
    finally:
        for service in services:
            service.stop(grace_s=5)
    for service in services:
        log = service.log()
        assert log, service.name
        assert SECRET not in log, f"{service.name} log shows the password"
