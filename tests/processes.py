"""Process helpers shared by the integration, chaos and deploy harnesses (and bench/takeover.py).

Every started process gets its own session, so stopping it takes its whole process group
(Celery prefork children included) and nothing outlives the test. Tests never use a Redis they
did not start: ``RedisServer`` runs one on a free port in a private dir.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
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


def worker_argv(name: str) -> list[str]:
    """A one-process Celery worker named ``name@host`` on the solve and merge queues, as the
    integration harnesses run it."""
    return [sys.executable, "-m", "celery", "-A", "tasks", "worker", "-P", "prefork", "-c", "1",
            "-n", f"{name}@%h", "-Q", "solve,merge", "-l", "info", "--without-gossip",
            "--without-mingle"]


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


REDIS_SERVER_MISSING = (
    "redis-server is not on PATH: the tests start their own Redis and need the binary "
    "(Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis), or set "
    "TSP_CELERY_TEST_REDIS_URL to a Redis database the tests may flush."
)


def debug_command_option() -> list[str]:
    """Redis 7 refuses DEBUG (the stall test's DEBUG SLEEP) unless enabled; older ones allow it
    and do not know the option."""
    version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True)
    major = re.search(r"v=(\d+)", version.stdout)
    return ["--enable-debug-command", "local"] if major and int(major.group(1)) >= 7 else []


class RedisServer:
    """A redis-server owned by the tests: on a free port, files in ``workdir``, restartable on
    that port. ``appendonly`` keeps an AOF (everysec) so a restart shows what a crash loses."""

    def __init__(self, workdir: Path, appendonly: bool = True, extra_args: tuple = ()) -> None:
        if shutil.which("redis-server") is None:
            pytest.fail(REDIS_SERVER_MISSING, pytrace=False)
        self.workdir = workdir
        self.appendonly = appendonly
        self.extra_args = tuple(extra_args)  # e.g. ("--replicaof", "127.0.0.1", "6380")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: Service | None = None
        self.start()

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.workdir), "--save", "", "--protected-mode", "no",
                "--maxmemory-policy", "noeviction",
                "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "everysec",
                *debug_command_option(), *self.extra_args]
        proc = self.proc = Service("redis", argv, dict(os.environ), self.workdir / "redis.log")
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)

        def answers() -> bool:
            if not proc.alive():
                pytest.fail(f"redis-server exited at start:\n{proc.tail()}", pytrace=False)
            return client.ping()

        try:
            wait_until(answers, 15, f"redis-server on port {self.port}")
        finally:
            client.close()

    def kill(self) -> None:
        """kill -9: whatever AOF had not fsynced is lost, as in a real crash."""
        if self.proc is not None:
            self.proc.stop()
            self.proc = None

    def restart(self, down_s: float = 0.5, *, wipe: bool = False) -> None:
        """kill -9 and start again on the same port; with ``wipe``, without its data (as a
        Redis without persistence, or a replica promoted without the last writes)."""
        self.kill()
        time.sleep(down_s)
        if wipe:
            for path in self.workdir.iterdir():
                if path.name.startswith(("appendonly", "dump")):
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
        self.start()


class TerminalRun:
    """A command run on a pseudo-terminal, as a user at a terminal sees it: every chunk of its
    output (stdout and stderr, both on the terminal) with the seconds since start."""

    def __init__(self, argv: list[str], env: dict | None = None) -> None:
        import pty

        master, slave = pty.openpty()
        self.started = time.monotonic()
        self.popen = subprocess.Popen(argv, env=env, stdin=slave, stdout=slave, stderr=slave,
                                      start_new_session=True)
        os.close(slave)
        self._master = master
        self.chunks: list[tuple[float, str]] = []

    def read_until(self, predicate: Callable[[str], bool], timeout_s: float) -> str:
        """Collect output until ``predicate(all output)`` holds or the process ends; return it."""
        import select

        deadline = time.monotonic() + timeout_s
        while not predicate(self.text) and time.monotonic() < deadline:
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                if self.popen.poll() is not None:
                    break
                continue
            try:
                data = os.read(self._master, 65536)
            except OSError:  # EIO: the terminal's last writer has exited
                break
            if not data:
                break
            self.chunks.append((time.monotonic() - self.started, data.decode(errors="replace")))
        return self.text

    @property
    def text(self) -> str:
        return "".join(chunk for _, chunk in self.chunks)

    def finish(self, timeout_s: float) -> int:
        """Read to the end and return the exit code (kill the group after ``timeout_s``)."""
        self.read_until(lambda _: False, timeout_s)
        try:
            return self.popen.wait(timeout=max(0.1, timeout_s))
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()
            os.close(self._master)
