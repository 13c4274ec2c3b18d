"""Process helpers shared by the integration, chaos and deploy harnesses (and bench/takeover.py).

Every started process gets its own session, so stopping it takes its whole process group
(Celery prefork children included) and nothing outlives the test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
import redis


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], object], timeout_s: float, what: str,
               poll_s: float = 0.05) -> object:
    """Poll ``predicate`` until it returns something truthy and return it; fail the test after
    ``timeout_s``. A Redis that is briefly unreachable (being restarted) counts as not yet."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = predicate()
        except (redis.ConnectionError, redis.TimeoutError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(poll_s)


class Service:
    """One started process in its own session, its output appended to a log file."""

    def __init__(self, name: str, argv: list[str], env: dict, log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(argv, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, sig: int) -> None:
        """Signal this process only (not its children): a crash of exactly this process."""
        os.kill(self.pid, sig)

    def children(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 30) -> str:
        return f"--- {self.name} ---\n" + "\n".join(self.log().splitlines()[-lines:])

    def stop(self, grace_s: float = 0.0) -> None:
        """SIGTERM and wait up to ``grace_s`` when given, then SIGKILL the whole group and reap."""
        if grace_s > 0:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace_s)
        with contextlib.suppress(ProcessLookupError):  # stray prefork children too
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)
        self._log.close()
