"""`tsp-celery ops flower`: Flower on loopback by default, anywhere else only with a login.

The launch decisions run with a stand-in `celery` (the argv it would get); one test starts the
real Flower and checks that its pages need the login while its health check does not.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from processes import Service, free_port, wait_until

from tsp_celery.cli.ops_commands import flower_exposure_problem

pytestmark = pytest.mark.timeout(60)
LAUNCH = [sys.executable, "-m", "tsp_celery", "ops", "flower"]


def launch(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FLOWER_")}
    return subprocess.run([*LAUNCH, *args], env={**clean, **env}, capture_output=True,
                          text=True, timeout=30)


@pytest.mark.parametrize("env, says", [
    ({"FLOWER_ADDRESS": "0.0.0.0"}, "refusing to serve Flower on 0.0.0.0 without a login"),
    ({"FLOWER_ADDRESS": ""}, "refusing to serve Flower on every interface"),
    ({"FLOWER_ADDRESS": "10.1.2.3", "FLOWER_BASIC_AUTH": ""}, "without a login"),
    ({"FLOWER_ADDRESS": "0.0.0.0", "FLOWER_BASIC_AUTH": "admin:"}, "must be user:password"),
])
def test_refuses_a_public_interface_without_a_login(env, says):
    out = launch(env)
    assert out.returncode == 2 and says in out.stderr, out.stderr


def test_login_on_the_command_line_is_refused():
    out = launch({}, "--basic-auth=admin:pw")
    assert out.returncode == 2 and "set FLOWER_ADDRESS or FLOWER_BASIC_AUTH" in out.stderr
    assert "pw" not in out.stderr.replace("password", "")


@pytest.mark.parametrize("env", [{}, {"FLOWER_ADDRESS": "::1"},
                                 {"FLOWER_ADDRESS": "0.0.0.0", "FLOWER_BASIC_AUTH": "ops:pw"}])
def test_starts_celery_flower_where_it_is_safe(resolve, env):
    clean = {k: None for k in os.environ if k.startswith("FLOWER_")}
    assert resolve([*LAUNCH, "--port=5999"], env={**clean, **env}) == [
        "celery", "-A", "tasks", "flower", "--port=5999"]


def test_exposure_rules():
    assert flower_exposure_problem("127.0.0.1", "") is None
    assert flower_exposure_problem("localhost", "") is None
    assert flower_exposure_problem("0.0.0.0", "a:b,c:d") is None
    assert flower_exposure_problem("192.168.1.5", "") is not None
    assert flower_exposure_problem("127.0.0.1", ":nouser") is not None


def test_real_flower_pages_need_the_login_and_its_healthcheck_does_not(redis_url, tmp_path):
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("FLOWER_")},
           "TSP_CELERY_REDIS_URL": redis_url, "FLOWER_BASIC_AUTH": "ops:s3cret"}
    flower = Service("flower", [*LAUNCH, f"--port={port}"], env, tmp_path / "flower.log")
    try:
        base = f"http://127.0.0.1:{port}"

        def status(path: str, login: str | None = None) -> int:
            request = urllib.request.Request(base + path)
            if login:
                token = base64.b64encode(login.encode()).decode()
                request.add_header("Authorization", f"Basic {token}")
            try:
                with urllib.request.urlopen(request, timeout=3) as response:
                    return response.status
            except urllib.error.HTTPError as exc:
                return exc.code
            except OSError:
                return 0

        wait_until(lambda: status("/healthcheck") == 200, 40, "Flower to answer")
        assert status("/") == 401
        assert status("/", "ops:wrong") == 401
        assert status("/", "ops:s3cret") == 200
    finally:
        flower.stop(grace_s=5)
    assert "s3cret" not in flower.log()
