"""ops/redis/redis.conf and the Redis command lines of compose and k8s, run by a real redis-server.

Each test starts its own redis-server on a free port and a temporary data directory, with the
exact arguments docker-compose.yml or ops/k8s/redis.yaml give it (paths mapped to the test's).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis
import yaml
from deploy_helpers import ROOT, compose_config
from processes import free_port
from redis.backoff import NoBackoff
from redis.retry import Retry

pytestmark = pytest.mark.timeout(60)
CONF = ROOT / "ops" / "redis" / "redis.conf"


@contextlib.contextmanager
def redis_server(args: list[str], data: Path, password: str | None = None):
    """Run ``redis-server *args`` on a free loopback port; yield a client; always stop it."""
    exe = shutil.which("redis-server")
    assert exe, "redis-server is missing"
    port = free_port()
    proc = subprocess.Popen([exe, *args, "--port", str(port), "--bind", "127.0.0.1",
                             "--daemonize", "no", "--logfile", str(data / "redis.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    client = redis.Redis(port=port, password=password, socket_timeout=2)
    try:
        deadline = time.monotonic() + 10
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not come up"
                time.sleep(0.05)
        yield client
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def mapped(args: list[str], conf: Path, data: Path) -> list[str]:
    """Container paths in ``args`` replaced by the test's config file and data directory."""
    out = []
    for arg in args:
        if arg.endswith("redis.conf"):
            arg = str(conf)
        elif arg == "/data":
            arg = str(data)
        out.append(arg)
    return out


def assert_durable_config(client: redis.Redis, data: Path) -> None:
    config = client.config_get("*")
    assert config["appendonly"] == "yes"
    assert config["appendfsync"] == "everysec"
    assert config["maxmemory-policy"] == "noeviction"
    client.set("k", "v")
    assert (data / "appendonlydir").is_dir(), "AOF files go to the data directory"


def test_compose_command_without_password(tmp_path):
    args = compose_config()["services"]["redis"]["command"]
    assert args[0] == "redis-server"
    with redis_server(mapped(args[1:], CONF, tmp_path), tmp_path) as client:
        assert_durable_config(client, tmp_path)


def test_compose_command_with_password(tmp_path):
    args = compose_config(REDIS_PASSWORD="0123abcd")["services"]["redis"]["command"]
    with redis_server(mapped(args[1:], CONF, tmp_path), tmp_path, password="0123abcd") as client:
        assert_durable_config(client, tmp_path)
        anonymous = redis.Redis(port=client.connection_pool.connection_kwargs["port"],
                                retry=Retry(NoBackoff(), 0))
        with pytest.raises(redis.AuthenticationError):
            anonymous.ping()
        anonymous.close()


def test_k8s_command_with_its_config_map(tmp_path):
    docs = list(yaml.safe_load_all((ROOT / "ops" / "k8s" / "redis.yaml").read_text()))
    sts = next(d for d in docs if d["kind"] == "StatefulSet")
    container = sts["spec"]["template"]["spec"]["containers"][0]
    config_map = yaml.safe_load((ROOT / "ops" / "k8s" / "redis-config.yaml").read_text())
    conf = tmp_path / "redis.conf"
    conf.write_text(config_map["data"]["redis.conf"])
    args = [a.replace("$(REDIS_PASSWORD)", "k8s-pw") for a in container["args"]]
    data = tmp_path / "data"
    data.mkdir()
    with redis_server(mapped(args[1:], conf, data), data, password="k8s-pw") as client:
        assert_durable_config(client, data)
        assert int(client.config_get("maxmemory")["maxmemory"]) == 768 * 1024 * 1024
