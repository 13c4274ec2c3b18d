"""docker-compose.sentinel.yml: the Sentinel variant resolves, points every process at the
sentinels, and its start scripts make configs that a real redis-server runs with.

No Docker engine here: the compose file is checked as docker-compose resolves it, and
ops/redis/redis-node.sh and sentinel-node.sh run for real with a stand-in for the image's
``docker-entrypoint.sh`` (it just execs its arguments) and real redis-server processes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import redis
import yaml
from deploy_helpers import COMPOSE_SECRETS, COMPOSE_VARS, ROOT
from processes import Service, free_port, wait_until

from tsp_celery.cluster.connection import sentinel_nodes
from tsp_celery.settings import Settings

pytestmark = pytest.mark.timeout(90)

FILES = ["-f", "docker-compose.yml", "-f", "docker-compose.sentinel.yml"]
PYTHON_SERVICES = ("coordinator", "standby", "worker", "flower", "gateway", "client")
SENTINELS = ("sentinel-1", "sentinel-2", "sentinel-3")
REDIS_DIR = ROOT / "ops" / "redis"


def compose(**env: str) -> subprocess.CompletedProcess:
    exe = shutil.which("docker-compose")
    assert exe, "docker-compose is missing: apt-get install -y docker-compose (see .ci/run)"
    clean = {k: v for k, v in os.environ.items() if k not in COMPOSE_VARS}
    return subprocess.run([exe, *FILES, "--profile", "tools", "config"], cwd=ROOT,
                          env={**clean, **env}, capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def services() -> dict:
    proc = compose(**COMPOSE_SECRETS)
    assert proc.returncode == 0, proc.stderr
    return yaml.safe_load(proc.stdout)["services"]


def monitored_master() -> str:
    return re.search(r"^sentinel monitor (\S+) ", (REDIS_DIR / "sentinel.conf").read_text(),
                     re.M).group(1)


def test_refuses_to_start_without_the_secrets():
    proc = compose(FLOWER_BASIC_AUTH="a:b")
    assert proc.returncode != 0 and "run tsp-celery ops init first" in proc.stderr


def test_adds_a_replica_and_three_sentinels(services):
    assert {"redis", "redis-replica", *SENTINELS} <= set(services)
    replica = services["redis-replica"]["command"]
    assert replica[replica.index("--replicaof") + 1:][:2] == ["redis", "6379"]
    for name in SENTINELS:
        assert services[name]["command"][-1] == "redis", "each sentinel starts on the primary"


def test_every_process_reaches_redis_through_the_sentinels(services):
    for name in PYTHON_SERVICES:
        env = services[name]["environment"]
        settings = Settings.from_env(env)
        assert settings.is_sentinel, name
        nodes, primary = sentinel_nodes(settings.redis_url)
        assert sorted(host for host, _ in nodes) == list(SENTINELS), name
        assert primary["password"] == COMPOSE_SECRETS["REDIS_PASSWORD"]
        assert settings.sentinel_password == COMPOSE_SECRETS["REDIS_PASSWORD"]
        assert settings.sentinel_master == monitored_master()
        assert settings.wait_replicas >= 1, "commits a client relies on wait for the replica"
        assert settings.prefix == "tspc", "the base file's settings stay"
        if name != "client":
            assert set(SENTINELS) <= set(services[name]["depends_on"]), name


def test_no_password_on_any_command_line(services):
    for name in ("redis", "redis-replica", *SENTINELS):
        flat = json.dumps(services[name].get("command")) + json.dumps(services[name].get(
            "environment", {}))
        assert COMPOSE_SECRETS["REDIS_PASSWORD"] not in flat, name
        assert [s["source"] for s in services[name]["secrets"]] == ["redis-auth"]


def _entrypoint_stand_in(tmp_path: Path) -> dict:
    """PATH with a docker-entrypoint.sh that execs its arguments, as the image's does for a
    non-root user (plus $TEST_ARGS: this test's ports instead of the well-known ones)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_in = bin_dir / "docker-entrypoint.sh"
    stand_in.write_text('#!/bin/sh\nexec "$@" $TEST_ARGS\n')
    stand_in.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def _node(tmp_path: Path, env: dict, name: str, argv: list[str], port: int) -> Service:
    data = tmp_path / name
    data.mkdir()
    return Service(name, argv, {**env, "REDIS_DATA_DIR": str(data), "TMPDIR": str(data),
                                "TEST_ARGS": f"--port {port} --bind 127.0.0.1"},
                   tmp_path / f"{name}.log")


def test_start_scripts_make_a_working_authenticated_topology(tmp_path):
    password = "0123abcd"
    auth = tmp_path / "redis-auth.conf"
    auth.write_text(f"requirepass {password}\n")
    env = _entrypoint_stand_in(tmp_path)
    primary_port, replica_port, sentinel_port = free_port(), free_port(), free_port()
    no_files = ["--appendonly", "no", "--save", ""]
    procs = [
        _node(tmp_path, env, "primary", ["sh", str(REDIS_DIR / "redis-node.sh"), str(auth),
                                         *no_files], primary_port),
        _node(tmp_path, env, "replica", ["sh", str(REDIS_DIR / "redis-node.sh"), str(auth),
                                         *no_files, "--replicaof", "127.0.0.1",
                                         str(primary_port)], replica_port),
    ]
    try:
        replica = redis.Redis(port=replica_port, password=password, socket_timeout=2)
        # The replica authenticated to the primary with the masterauth the script derived.
        wait_until(lambda: replica.info("replication").get("master_link_status") == "up", 30,
                   "the replica to sync with the password-protected primary")
        procs.append(_node(tmp_path, env, "sentinel",
                           ["sh", str(REDIS_DIR / "sentinel-node.sh"), str(auth), "127.0.0.1",
                            str(primary_port)], sentinel_port))
        conf = tmp_path / "sentinel" / "sentinel.conf"
        wait_until(conf.exists, 10, "the sentinel's config")
        # The config is on the sentinel's volume, not world-readable: it holds the password.
        assert conf.stat().st_mode & 0o077 == 0
        sentinel = redis.Redis(port=sentinel_port, password=password, socket_timeout=2)
        master = monitored_master()
        wait_until(lambda: sentinel.sentinel_get_master_addr_by_name(master), 20,
                   "the sentinel to know the primary")
        assert int(sentinel.sentinel_get_master_addr_by_name(master)[1]) == primary_port
        wait_until(lambda: sentinel.sentinel_slaves(master), 30,
                   "the sentinel to find the replica through the primary")
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=sentinel_port, socket_timeout=2).ping()  # never open
    finally:
        for proc in procs:
            proc.stop()
