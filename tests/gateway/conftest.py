"""Gateway harness: a test-owned redis-server, two Celery workers, a coordinator and a real
``tsp-celery gateway`` (uvicorn) process on free 127.0.0.1 ports, started once per session.

Tokens are made with the real ``tsp-celery tokens create`` command. Clients in these tests
speak HTTP only; the harness alone holds the Redis URL (to check what is stored at rest).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import redis
from processes import Service, free_port, wait_until, worker_argv

from tsp_celery.cluster.keys import Keys
from tsp_celery.cluster.workers import live_workers
from tsp_celery.solver.budget import fits_matrix_budget

WORKERS = 2
STARTUP_S = 60
# As in tests/integration: n = 1000 takes the decomposition path (a first tour, then rounds that
# improve it), so a job's gap visibly falls over a few seconds.
MATRIX_BUDGET_MB = next(mb for mb in range(1, 1 << 16) if fits_matrix_budget(500, mb << 20))
PREFIX = "gw"


class GatewayHarness:
    """The running processes, the gateway's base URL and helpers for tokens and requests."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.redis_port = free_port()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.env = {**os.environ, "TSP_CELERY_REDIS_URL": self.redis_url,
                    "TSP_CELERY_PREFIX": PREFIX, "TSP_CELERY_HEARTBEAT_TTL_S": "3",
                    "TSP_CELERY_MATRIX_BUDGET_MB": str(MATRIX_BUDGET_MB),
                    "PYTHONUNBUFFERED": "1"}
        self.env.pop("TSP_CELERY_GATEWAY_TOKEN", None)
        self.keys = Keys(PREFIX)
        self.services: list[Service] = []
        self.redis: redis.Redis | None = None

    def start(self) -> None:
        self.services.append(Service("redis", [
            "redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(self.tmp)], self.env, self.tmp / "redis.log"))
        self.redis = redis.Redis(port=self.redis_port)
        wait_until(self.redis.ping, 15, f"redis-server on port {self.redis_port}")
        for i in range(WORKERS):
            name = f"gw{i + 1}"
            self.services.append(Service(name, worker_argv(name), self.env,
                                         self.tmp / f"{name}.log"))
        self.services.append(Service("coordinator", [
            sys.executable, "-m", "tsp_celery", "coordinator", "--node-id", "gw-coord"],
            self.env, self.tmp / "coordinator.log"))
        self.services.append(Service("gateway", [
            sys.executable, "-m", "tsp_celery", "gateway", "--port", str(self.port),
            "--max-body-bytes", str(4 << 20)], self.env, self.tmp / "gateway.log"))
        wait_until(lambda: self._health().get("status") == "ok", STARTUP_S,
                   f"a healthy gateway (leader and workers)\n{self.logs()}", poll_s=0.3)

    def _health(self) -> dict:
        try:
            return httpx.get(f"{self.url}/health", timeout=5).json()
        except httpx.HTTPError:
            return {}

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop(grace_s=10)
        if self.redis is not None:
            self.redis.close()

    def cli(self, *args: str, timeout_s: float = 60,
            env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "tsp_celery", *args], env=env or self.env,
                              capture_output=True, text=True, timeout=timeout_s)

    def new_token(self, name: str, *limits: str) -> str:
        """A token from ``tsp-celery tokens create`` (its last line of output)."""
        done = self.cli("tokens", "create", name, *limits)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().splitlines()[-1]

    def wait_idle(self, timeout_s: float = 90) -> None:
        """Until no job is queued or running and no worker runs a unit (a cancelled job's last
        units may outlive it): a test that times a job starts on idle workers."""
        def idle() -> bool:
            workers = live_workers(self.redis, self.keys)
            return (not self.redis.scard(self.keys.jobs_active())
                    and not self.redis.zcard(self.keys.jobs_queued())
                    and len(workers) == WORKERS and not any(w.get("units") for w in workers))

        wait_until(idle, timeout_s, f"the cluster to be idle\n{self.logs()}", poll_s=0.2)

    def http(self, token: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def logs(self) -> str:
        return "\n".join(s.tail() for s in self.services)


@pytest.fixture(scope="session")
def gateway(tmp_path_factory) -> GatewayHarness:
    harness = GatewayHarness(tmp_path_factory.mktemp("gateway"))
    try:
        harness.start()
        yield harness
    finally:
        harness.stop()
