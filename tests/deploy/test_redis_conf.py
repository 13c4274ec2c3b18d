"""ops/redis/redis.conf and the Redis command lines of compose and k8s, run by a real redis-server.

Each test starts its own redis-server on a free port and a temporary data directory, with the
exact arguments docker-compose.yml or ops/k8s/redis.yaml give it (paths mapped to the test's).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
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


def mapped(args: list[str], conf: Path, data: Path, auth: Path | None = None) -> list[str]:
    """Container paths in ``args`` replaced by the test's config file, data directory and
    password file (what compose's secret or the k8s Secret mounts)."""
    out = []
    for arg in args:
        if arg.endswith("redis.conf"):
            arg = str(conf)
        elif arg == "/data":
            arg = str(data)
        elif auth is not None and ("/secrets/" in arg or "redis-auth" in arg):
            arg = str(auth)
        out.append(arg)
    return out


def auth_file(folder: Path, password: str) -> Path:
    """The password file as `tsp-celery ops init` writes it."""
    path = folder / "redis-auth.conf"
    path.write_text(f"requirepass {password}\n")
    return path


def assert_needs_the_password(client: redis.Redis) -> None:
    anonymous = redis.Redis(port=client.connection_pool.connection_kwargs["port"],
                            retry=Retry(NoBackoff(), 0))
    with pytest.raises(redis.AuthenticationError):
        anonymous.ping()
    anonymous.close()
    assert client.config_get("protected-mode")["protected-mode"] == "yes"


def assert_durable_config(client: redis.Redis, data: Path) -> None:
    config = client.config_get("*")
    assert config["appendonly"] == "yes"
    assert config["appendfsync"] == "everysec"
    assert config["maxmemory-policy"] == "noeviction"
    client.set("k", "v")
    assert (data / "appendonlydir").is_dir(), "AOF files go to the data directory"


def test_compose_command_reads_the_password_from_its_secret(tmp_path):
    args = compose_config(REDIS_PASSWORD="0123abcd")["services"]["redis"]["command"]
    assert "0123abcd" not in args
    auth = auth_file(tmp_path, "0123abcd")
    with redis_server(mapped(args[1:], CONF, tmp_path, auth), tmp_path,
                      password="0123abcd") as client:
        assert_durable_config(client, tmp_path)
        assert_needs_the_password(client)


def test_ops_init_files_work_with_the_compose_command(tmp_path):
    init = subprocess.run([sys.executable, "-m", "tsp_celery", "ops", "init", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert init.returncode == 0, init.stderr
    env = dict(line.split("=", 1) for line in (tmp_path / ".env").read_text().splitlines())
    assert env["REDIS_PASSWORD"] not in init.stdout + init.stderr, "never printed"
    args = compose_config(**env)["services"]["redis"]["command"]
    data = tmp_path / "data"
    data.mkdir()
    with redis_server(mapped(args[1:], CONF, data, tmp_path / ".secrets" / "redis-auth.conf"),
                      data, password=env["REDIS_PASSWORD"]) as client:
        assert_needs_the_password(client)


def test_k8s_command_with_its_config_map(tmp_path):
    docs = list(yaml.safe_load_all((ROOT / "ops" / "k8s" / "redis.yaml").read_text()))
    sts = next(d for d in docs if d["kind"] == "StatefulSet")
    container = sts["spec"]["template"]["spec"]["containers"][0]
    config_map = yaml.safe_load((ROOT / "ops" / "k8s" / "redis-config.yaml").read_text())
    conf = tmp_path / "redis.conf"
    conf.write_text(config_map["data"]["redis.conf"])
    args = container["args"]
    assert not any("PASSWORD" in a for a in args)
    data = tmp_path / "data"
    data.mkdir()
    with redis_server(mapped(args[1:], conf, data, auth_file(tmp_path, "k8s-pw")), data,
                      password="k8s-pw") as client:
        assert_durable_config(client, data)
        assert_needs_the_password(client)
        assert int(client.config_get("maxmemory")["maxmemory"]) == 768 * 1024 * 1024
