"""`tsp-celery submit --gateway` and `tokens create` refusals that need no running gateway."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from processes import free_port

pytestmark = pytest.mark.timeout(60)
TOKEN = "tspg_000000000000_" + "x" * 43


def run(*args: str, token_env: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TSP_CELERY_GATEWAY_TOKEN"}
    if token_env is not None:
        env["TSP_CELERY_GATEWAY_TOKEN"] = token_env
    return subprocess.run([sys.executable, "-m", "tsp_celery", *args], env=env,
                          capture_output=True, text=True, timeout=50)


@pytest.mark.parametrize(("args", "code", "message"), [
    (["missing.tsp", "--token", TOKEN], 2, "no such file"),
    (["{berlin52}", "--token", TOKEN, "--gateway", "ftp://host"], 2, "http:// or https://"),
    (["{berlin52}"], 2, "Expected a gateway token (--token or $TSP_CELERY_GATEWAY_TOKEN)"),
    (["{berlin52}", "--token", TOKEN], 3, "cannot reach the gateway"),
])
def test_submit_through_a_gateway_fails_clearly(data_dir, args, code, message):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    args = [a.replace("{berlin52}", str(data_dir / "berlin52.tsp")) for a in args]
    if "--gateway" not in args:
        args += ["--gateway", url]
    done = run("submit", *args)
    assert done.returncode == code, done.stderr
    assert message in done.stderr
    assert done.stdout == ""


def test_submit_takes_the_token_from_the_environment(data_dir):
    done = run("submit", str(data_dir / "berlin52.tsp"), "--gateway",
               f"http://127.0.0.1:{free_port()}", token_env=TOKEN)
    assert done.returncode == 3 and "cannot reach the gateway" in done.stderr


@pytest.mark.parametrize("limit", [["--max-nodes", "2"], ["--max-job-seconds", "0"],
                                   ["--max-active-jobs", "0"]])
def test_tokens_create_refuses_limits_out_of_range(limit):
    done = run("tokens", "create", "x", *limit, "--redis-url", "redis://127.0.0.1:1/0")
    assert done.returncode == 2 and limit[0] in done.stderr
    assert "tspg_" not in done.stdout
