"""Health of a deployment, as probes and operators ask for it: Redis, leader, live workers.

Each role checks only what restarting or un-routing *that* process could fix, so a probe does
not fail for someone else's fault more than it must:

- ``worker``: Redis answers a PING (a worker without its broker can do nothing).
- ``coordinator``: Redis answers and some coordinator holds a fresh leader lease; with
  ``node_id``, also that this coordinator's own heartbeat is fresh (it is alive as leader or
  standby, not wedged).
- ``any`` (the default, for operators and "is the cluster ready to solve?"): Redis, a leader,
  and at least one live worker.

``min_workers`` overrides the live-worker requirement for any role (default 1 for ``any``,
0 otherwise). The check is read-only apart from the stale-entry pruning done by
``read_coordinators``, and never takes longer than a few round trips of ``timeout_s``.
With ``wait_replicas`` set, a primary with fewer online replicas is healthy but ``degraded``
(yellow: the reason starts with "degraded", the exit code stays 0): commits are not durable.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import redis as redis_lib

from tsp_celery.cluster.connection import connect_settings, error_text, redact_text, redact_url
from tsp_celery.cluster.keys import Keys
from tsp_celery.cluster.lease import read_coordinators, read_leader
from tsp_celery.cluster.workers import live_workers
from tsp_celery.errors import ClusterUnreachableError
from tsp_celery.settings import Settings

ROLES = ("any", "coordinator", "worker")
DEFAULT_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Health:
    """Outcome of one check: ``ok`` plus a one-line ``reason`` and the facts behind it."""

    ok: bool
    reason: str
    role: str
    redis_ok: bool
    leader: dict | None = None
    workers: int | None = None
    slots: int | None = None
    node: dict | None = None
    # Healthy but not as configured (yellow): fewer replicas than commits wait for.
    degraded: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def check_health(settings: Settings, role: str = "any", *, min_workers: int | None = None,
                 node_id: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> Health:
    """Run the checks of ``role`` (see the module docstring) against ``settings.redis_url``."""
    if role not in ROLES:
        raise ValueError(f"Expected a role in {ROLES}, got {role!r}.")
    if min_workers is None:
        min_workers = 1 if role == "any" else 0
    url = redact_url(settings.redis_url)
    try:
        # Fails fast (short timeouts, no retries): a probe must not hang.
        client = connect_settings(settings, ping=False, probe_timeout_s=timeout_s)
    except ClusterUnreachableError as exc:  # a malformed URL (bad port, unknown option)
        return Health(False, str(exc), role, redis_ok=False)
    try:
        try:
            client.ping()
        except (redis_lib.RedisError, ValueError) as exc:
            return Health(False, f"Redis unreachable at {url}: {error_text(exc)}", role,
                          redis_ok=False)
        try:
            return _check_cluster(client, Keys(settings.prefix), settings, role, min_workers,
                                  node_id)
        except redis_lib.RedisError as exc:
            return Health(False, f"Redis error at {url}: {redact_text(str(exc))}", role,
                          redis_ok=False)
    finally:
        client.close()


def _check_cluster(client: redis_lib.Redis, keys: Keys, settings: Settings, role: str,
                   min_workers: int, node_id: str | None) -> Health:
    facts: list[str] = ["Redis up"]
    leader = None
    if role in ("coordinator", "any"):
        try:
            leader = read_leader(client, keys)
        except ValueError as exc:
            return Health(False, f"leader lease is corrupt: {exc}", role, True)
        if leader is None or leader["ttl_ms_left"] <= 0:
            return Health(False, f"no leader: no coordinator holds the lease {keys.lease()}",
                          role, True, leader)
        facts.append(f"leader {leader['node_id']} (term {leader['term']}, "
                     f"lease {leader['ttl_ms_left'] / 1000:.1f} s left)")
    node = None
    if role == "coordinator" and node_id is not None:
        stale_s = settings.lease_ttl_ms / 1000.0
        node = read_coordinators(client, keys, stale_s=stale_s).get(node_id)
        if node is None:
            return Health(False, f"coordinator {node_id} has no heartbeat in the last "
                          f"{stale_s:g} s", role, True, leader=leader)
        facts.append(f"{node_id} alive as {node.get('role', '?')} "
                     f"({time.time() - float(node['seen_at']):.1f} s ago)")
    workers = slots = None
    if min_workers > 0:
        records = live_workers(client, keys)
        workers, slots = len(records), sum(int(r.get("slots", 1)) for r in records)
        if workers < min_workers:
            return Health(False, f"{workers} live worker(s), need at least {min_workers}", role,
                          True, leader=leader, workers=workers, slots=slots, node=node)
        facts.append(f"{workers} live worker(s) with {slots} slot(s)")
    degraded = _replication_shortfall(client, settings)
    head = f"degraded ({degraded})" if degraded else "ok"
    return Health(True, f"{head}: " + ", ".join(facts), role, True, leader=leader,
                  workers=workers, slots=slots, node=node, degraded=degraded)


def _replication_shortfall(client: redis_lib.Redis, settings: Settings) -> str | None:
    """Why commits cannot be durable now (fewer replicas online than they WAIT for), or None."""
    if settings.wait_replicas <= 0:
        return None
    try:
        info = client.info("replication")
    except redis_lib.ResponseError:  # a probe user without INFO: nothing to say
        return None
    online = sum(1 for key, value in info.items() if key.startswith("slave")
                 and isinstance(value, dict) and value.get("state") == "online")
    if online >= settings.wait_replicas:
        return None
    return (f"{online} of {settings.wait_replicas} replica(s) online: commits are not "
            "durable, a failover now could lose them")
