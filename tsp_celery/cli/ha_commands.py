"""``tsp-celery events JOB`` (a job's causal history) and ``tsp-celery cluster`` (who leads)."""

from __future__ import annotations

import json
import time

import click

from tsp_celery.cluster.connection import connect_settings
from tsp_celery.cluster.events import Event, EventLog
from tsp_celery.cluster.keys import Keys
from tsp_celery.cluster.lease import read_coordinators, read_leader
from tsp_celery.errors import JobNotFoundError
from tsp_celery.settings import Settings

_REDIS_URL_HELP = "Redis URL [default: $TSP_CELERY_REDIS_URL or redis://localhost:6379/0]."


def _open(redis_url: str | None):
    try:
        settings = Settings.from_env(redis_url=redis_url)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    return settings, connect_settings(settings), Keys(settings.prefix)


def _clock(wall: float | None) -> str:
    if not wall:
        return "-"
    return time.strftime("%H:%M:%S", time.localtime(wall)) + f".{int(wall % 1 * 1000):03d}"


def _line(event: Event) -> str:
    kind = event.to_dict()["type"]
    data = " ".join(f"{k}={json.dumps(v) if isinstance(v, (dict, list)) else v}"
                    for k, v in event.data.items())
    return f"{event.lamport:>7}  {_clock(event.wall)}  {event.node:<18} {kind:<15} {data}".rstrip()


@click.command()
@click.argument("job_id")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events until the job ends.")
@click.option("--json", "as_json", is_flag=True,
              help="JSON: a list, or one object per line with --follow.")
@click.option("--redis-url", default=None, help=_REDIS_URL_HELP)
def events(job_id: str, follow: bool, as_json: bool, redis_url: str | None) -> None:
    """Print JOB_ID's event log in causal (Lamport, node) order."""
    _settings, client, keys = _open(redis_url)
    log = EventLog(client, keys)
    if not client.exists(keys.job(job_id)) and not client.exists(keys.job_events(job_id)):
        raise JobNotFoundError(f"no job {job_id!r} in the cluster (it may have expired)")
    if not as_json:
        click.echo(f"{'lamport':>7}  {'wall':<12}  {'node':<18} {'event':<15} data")
    if not follow:
        history = log.read(job_id)
        if as_json:
            click.echo(json.dumps([e.to_dict() for e in history]))
        else:
            for event in history:
                click.echo(_line(event))
        return
    for event in log.follow(job_id):
        click.echo(json.dumps(event.to_dict()) if as_json else _line(event))


def cluster_view(client, keys: Keys, stale_s: float) -> dict:
    """Leader, fencing term, coordinators with priority/role/last seen: the JSON of ``cluster``."""
    now = time.time()
    leader = read_leader(client, keys)
    term = client.get(keys.term())
    coordinators = []
    for node_id, rec in sorted(read_coordinators(client, keys).items(),
                               key=lambda kv: (-int(kv[1].get("priority", 0)), kv[0])):
        seen = float(rec.get("seen_at", 0))
        is_leader = leader is not None and leader["node_id"] == node_id
        coordinators.append({
            "node_id": node_id, "priority": rec.get("priority", 0),
            "role": "leader" if is_leader else "standby", "alive": now - seen <= stale_s,
            "last_seen_s": round(now - seen, 3), "host": rec.get("host"), "pid": rec.get("pid"),
        })
    return {
        "leader": leader,
        "term": int(term) if term is not None else 0,
        "last_renewal_s": (round(now - leader["renewed_at"], 3)
                           if leader and leader.get("renewed_at") else None),
        "coordinators": coordinators,
        "standbys": [c["node_id"] for c in coordinators if c["role"] == "standby" and c["alive"]],
    }


@click.command("cluster")
@click.option("--json", "as_json", is_flag=True, help="Print the view as JSON.")
@click.option("--redis-url", default=None, help=_REDIS_URL_HELP)
def cluster(as_json: bool, redis_url: str | None) -> None:
    """Show the leader coordinator, its term, the standbys and the last lease renewal."""
    settings, client, keys = _open(redis_url)
    view = cluster_view(client, keys, stale_s=settings.lease_ttl_ms / 1000.0 * 2)
    if as_json:
        click.echo(json.dumps(view))
        return
    leader = view["leader"]
    if leader is None:
        click.echo(f"leader: none (no coordinator holds the lease; last term {view['term']})")
    else:
        click.echo(f"leader: {leader['node_id']}  term {leader['term']}  "
                   f"renewed {view['last_renewal_s']} s ago  "
                   f"lease {leader['ttl_ms_left'] / 1000:.1f} s left")
    if not view["coordinators"]:
        click.echo("no coordinators registered")
        return
    click.echo(f"{'node':<20} {'priority':>8}  {'role':<8} {'last seen':>10}  alive")
    for c in view["coordinators"]:
        click.echo(f"{c['node_id']:<20} {c['priority']:>8}  {c['role']:<8} "
                   f"{c['last_seen_s']:>8.1f} s  {'yes' if c['alive'] else 'no'}")


commands = [events, cluster]
