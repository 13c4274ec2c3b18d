"""A Sentinel-managed Redis of the test's own: one primary, one replica, three sentinels.

All on 127.0.0.1 free ports under a private dir; every process is SIGKILLed at ``stop``. The
sentinels declare a primary down after DOWN_AFTER_MS, so a failover takes a few seconds.
``SentinelCluster`` is the chaos ``Cluster`` with every process (and its own client) on the
``sentinel://`` URL list instead of one Redis.
"""

from __future__ import annotations

import os
from pathlib import Path

import redis
from chaos_harness import PREFIX, Cluster
from processes import RedisServer, Service, free_port, wait_until

from tsp_celery.cluster.client import ClusterClient
from tsp_celery.cluster.connection import connect_settings
from tsp_celery.cluster.events import EventLog
from tsp_celery.cluster.keys import Keys
from tsp_celery.settings import Settings

MASTER = "chaosmaster"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000
WAIT_TIMEOUT_MS = 1000


class SentinelGroup:
    """Primary + replica (AOF on both) and three sentinels watching them as MASTER."""

    def __init__(self, workdir: Path, sentinels: int = 3) -> None:
        self.workdir = workdir
        self.primary = RedisServer(self._dir("primary"))
        self.replica = RedisServer(self._dir("replica"), extra_args=(
            "--replicaof", "127.0.0.1", str(self.primary.port)))
        self.sentinels: list[Service] = []
        self.sentinel_ports: list[int] = []
        wait_until(lambda: self.replica_in_sync(self.replica), 30, "the replica in sync")
        for i in range(sentinels):
            self._start_sentinel(i)
        wait_until(lambda: all(self.sentinel_sees_replica(p) for p in self.sentinel_ports), 30,
                   "every sentinel to know the primary and its replica")

    def _dir(self, name: str) -> Path:
        path = self.workdir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _start_sentinel(self, index: int) -> None:
        port = free_port()
        folder = self._dir(f"sentinel{index}")
        conf = folder / "sentinel.conf"  # sentinels rewrite their own config: one file each
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {folder}\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {self.primary.port} 2\n"
            f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}\n"
            f"sentinel parallel-syncs {MASTER} 1\n")
        proc = Service(f"sentinel{index}", ["redis-server", str(conf), "--sentinel"],
                       dict(os.environ), folder / "sentinel.log")
        self.sentinels.append(proc)
        self.sentinel_ports.append(port)

    @property
    def url(self) -> str:
        return ";".join(f"sentinel://127.0.0.1:{port}/0" for port in self.sentinel_ports)

    def primary_port(self) -> int | None:
        """The primary's port as the first answering sentinel names it."""
        for port in self.sentinel_ports:
            try:
                with redis.Redis(port=port, socket_timeout=1) as s:
                    addr = s.sentinel_get_master_addr_by_name(MASTER)
                    return int(addr[1]) if addr else None
            except redis.RedisError:
                continue
        return None

    def sentinel_sees_replica(self, port: int) -> bool:
        with redis.Redis(port=port, socket_timeout=1) as s:
            return bool(s.sentinel_slaves(MASTER))

    @staticmethod
    def replica_in_sync(server: RedisServer) -> bool:
        with redis.Redis(port=server.port, socket_timeout=1) as r:
            info = r.info("replication")
        return info.get("role") == "slave" and info.get("master_link_status") == "up"

    @staticmethod
    def direct(server: RedisServer) -> redis.Redis:
        """A client of exactly this server (no sentinel), to read what it holds."""
        return redis.Redis(port=server.port, socket_timeout=5)

    def stop(self) -> None:
        for proc in self.sentinels:
            proc.stop()
        self.primary.kill()
        self.replica.kill()


class SentinelCluster(Cluster):
    """The chaos Cluster on a SentinelGroup: coordinators, workers, CLI and this test's client
    all reach Redis through the sentinels, and commits wait for the replica."""

    def __init__(self, group: SentinelGroup, tmp_path: Path, wait_replicas: int = 1) -> None:
        super().__init__(group.primary, tmp_path)  # the base's plain client is replaced below
        self.redis.close()
        self.group = group
        self.env.update({"TSP_CELERY_REDIS_URL": group.url,
                         "TSP_CELERY_SENTINEL_MASTER": MASTER,
                         "TSP_CELERY_WAIT_REPLICAS": str(wait_replicas),
                         "TSP_CELERY_WAIT_TIMEOUT_MS": str(WAIT_TIMEOUT_MS)})
        self.settings = Settings.from_env(self.env)
        self.redis = connect_settings(self.settings, ping=True)
        self.keys = Keys(PREFIX)
        self.events = EventLog(self.redis, self.keys)
        self.client = ClusterClient(self.settings, redis=self.redis)
        self.store = self.client.store
