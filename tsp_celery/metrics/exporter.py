"""A coordinator's ``/metrics``: its own instruments plus the cluster state read from Redis."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, disable_created_metrics, start_http_server
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from tsp_celery.cluster.connection import REDIS_DOWN
from tsp_celery.cluster.keys import Keys
from tsp_celery.errors import TspCeleryError
from tsp_celery.metrics import instruments, redis_error
from tsp_celery.metrics.cluster import ClusterCollector

log = logging.getLogger(__name__)


class _Degraded(Collector):
    """The cluster collector, or only ``is_leader`` while Redis cannot be read: a scrape
    must still answer (and say who leads) when Redis is down."""

    def __init__(self, inner: ClusterCollector) -> None:
        self.inner = inner

    def describe(self) -> Iterator[Metric]:
        return self.inner.describe()

    def collect(self) -> Iterator[Metric]:
        try:
            families = list(self.inner.collect())
        except REDIS_DOWN as exc:
            redis_error(exc)
            families = [f for f in self.inner.describe()
                        if f.name == "tsp_celery_coordinator_is_leader"]
            families[0].add_metric([self.inner.node_id], float(self.inner.is_leader()))
        return iter(families)


def coordinator_registry(redis, keys: Keys, node_id: str,
                         is_leader: Callable[[], bool]) -> CollectorRegistry:
    """Everything a coordinator exports, in one registry."""
    disable_created_metrics()  # *_created series double the output; nothing reads them
    registry = CollectorRegistry()
    registry.register(instruments.COORDINATOR)
    registry.register(_Degraded(ClusterCollector(redis, keys, node_id, is_leader)))
    return registry


def serve_metrics(coordinator, port: int, addr: str = "0.0.0.0") -> None:
    """Serve a coordinator's metrics on http://addr:port/metrics from a daemon thread
    (leadership as its lease says)."""
    registry = coordinator_registry(coordinator.redis, coordinator.keys, coordinator.node_id,
                                    lambda: coordinator.lease.is_leader)
    try:
        start_http_server(port, addr=addr, registry=registry)
    except OSError as exc:  # port taken, address not ours: say so before anything runs
        raise TspCeleryError(f"cannot serve metrics on {addr}:{port}: {exc}") from exc
    log.info("metrics on http://%s:%d/metrics", addr, port)
