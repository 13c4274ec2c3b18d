"""The coordinator's monitoring options: bad ones are usage errors (exit 2) before it runs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(60)


def test_coordinator_refuses_an_unknown_log_format():
    env = {**os.environ, "TSP_CELERY_LOG_FORMAT": "xml"}
    proc = subprocess.run([sys.executable, "-m", "tsp_celery", "coordinator",
                           "--redis-url", "redis://127.0.0.1:1/0"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "TSP_CELERY_LOG_FORMAT" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "tsp_celery", "coordinator", "--log-format",
                           "xml"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "xml" in proc.stderr


def test_coordinator_with_a_taken_metrics_port_exits_2_saying_so(redis_url):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "tsp_celery", "coordinator", "--redis-url",
                               redis_url, "--metrics-port", str(port), "--metrics-addr",
                               "127.0.0.1"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert f"cannot serve metrics on 127.0.0.1:{port}" in proc.stderr
