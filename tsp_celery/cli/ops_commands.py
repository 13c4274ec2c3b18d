"""Operator commands: ``tsp-celery health`` for container probes and people."""

from __future__ import annotations

import json
import sys

import click

from tsp_celery.cli.options import count, seconds
from tsp_celery.health import DEFAULT_TIMEOUT_S, ROLES, check_health
from tsp_celery.settings import Settings


@click.command()
@click.option("--role", type=click.Choice(ROLES), default="any", show_default=True,
              help="worker: Redis reachable. coordinator: also a leader with a fresh lease. "
                   "any: also at least one live worker.")
@click.option("--min-workers", type=count(0, 1_000_000, "1"), default=None,
              help="Live workers required [default: 1 for --role any, else 0].")
@click.option("--node-id", default=None,
              help="With --role coordinator: also require this coordinator's heartbeat.")
@click.option("--timeout", "timeout_s", type=seconds("2", low=0.1, high=3600),
              default=DEFAULT_TIMEOUT_S,
              show_default=True, help="Seconds to wait for Redis on each call.")
@click.option("--redis-url", default=None,
              help="Redis URL [default: $TSP_CELERY_REDIS_URL or redis://localhost:6379/0].")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
def health(role: str, min_workers: int | None, node_id: str | None, timeout_s: float,
           redis_url: str | None, as_json: bool) -> None:
    """Exit 0 if healthy for ROLE, 1 if not; print a one-line reason either way."""
    if node_id is not None and role != "coordinator":
        raise click.UsageError("--node-id needs --role coordinator.")
    try:
        settings = Settings.from_env(redis_url=redis_url)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    report = check_health(settings, role, min_workers=min_workers, node_id=node_id,
                          timeout_s=timeout_s)
    click.echo(json.dumps(report.to_dict()) if as_json else report.reason)
    sys.exit(0 if report.ok else 1)


commands = [health]
