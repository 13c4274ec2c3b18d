"""Operator commands: ``tsp-celery health`` for probes and people, ``tsp-celery ops init`` for
the deployment's secrets, ``tsp-celery ops flower`` to start Flower only where it is safe."""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import sys
from pathlib import Path

import click

from tsp_celery.cli.options import count, seconds
from tsp_celery.health import DEFAULT_TIMEOUT_S, ROLES, check_health
from tsp_celery.settings import Settings

# Where `ops init` writes, per target: (environment file, Redis auth file) under its folder.
SECRET_FILES = {"compose": (".env", ".secrets/redis-auth.conf"),
                "k8s": ("secrets.env", "redis-auth.conf")}
# The variables of each environment file (compose reads .env; kustomize a secretGenerator):
# the Redis password, the Flower login, then plain passwords (compose's Grafana admin).
SECRET_KEYS = {"compose": ("REDIS_PASSWORD", "FLOWER_BASIC_AUTH", "GRAFANA_ADMIN_PASSWORD"),
               "k8s": ("password", "flower-basic-auth")}


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


@click.group()
def ops() -> None:
    """Deployment chores: generate secrets, start Flower safely."""


@ops.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path), required=False)
@click.option("--for", "target", type=click.Choice(sorted(SECRET_FILES)), default="compose",
              show_default=True, help="compose: FOLDER/.env and FOLDER/.secrets/redis-auth.conf "
              "(FOLDER defaults to .). k8s: FOLDER/secrets.env and FOLDER/redis-auth.conf for "
              "the kustomization's secretGenerator (FOLDER defaults to ops/k8s).")
@click.option("--rotate", is_flag=True, help="Replace existing secrets with new ones.")
def init(folder: Path | None, target: str, rotate: bool) -> None:
    """Generate a random Redis password, Flower login (and, for compose, Grafana admin
    password) for a deployment (never printed)."""
    folder = folder or Path("ops/k8s" if target == "k8s" else ".")
    env_name, auth_name = SECRET_FILES[target]
    env_path, auth_path = folder / env_name, folder / auth_name
    existing = _read_env(env_path)
    password_key, flower_key, *other_keys = SECRET_KEYS[target]
    if password_key in existing and not rotate:
        raise click.UsageError(f"{env_path} already holds {password_key}; pass --rotate to "
                               "replace it (then restart Redis and every process).")
    password = secrets.token_hex(24)  # hex: safe inside a URL and a config line
    existing[password_key] = password
    existing[flower_key] = f"admin:{secrets.token_hex(12)}"
    existing.update({key: secrets.token_hex(12) for key in other_keys})
    auth_path.parent.mkdir(parents=True, exist_ok=True)
    if target == "compose":
        auth_path.parent.chmod(0o700)  # the file is bind-mounted; its folder keeps others out
    _write_private(env_path, "".join(f"{k}={v}\n" for k, v in existing.items()), 0o600)
    _write_private(auth_path, f"requirepass {password}\n",
                   0o644 if target == "compose" else 0o600)
    click.echo(f"wrote {env_path} ({', '.join(SECRET_KEYS[target])}) and {auth_path}")
    click.echo("next: docker-compose up -d" if target == "compose"
               else "next: kubectl apply -k ops/k8s")


def _read_env(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines()
             if "=" in line and not line.lstrip().startswith("#"))
    return {k.strip(): v for k, v in pairs}


def _write_private(path: Path, text: str, mode: int) -> None:
    """Write ``text`` to a file created with ``mode`` (never world-readable in between)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    path.chmod(mode)


def flower_exposure_problem(address: str, basic_auth: str) -> str | None:
    """Why Flower must not start on ``address`` with ``basic_auth`` (None when it may)."""
    entries = [e for e in basic_auth.split(",") if e]
    for entry in entries:
        user, _, password = entry.partition(":")
        if not user or not password:
            return "FLOWER_BASIC_AUTH must be user:password (comma-separated for several)"
    try:
        loopback = address == "localhost" or ipaddress.ip_address(address).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not entries:
        return (f"refusing to serve Flower on {address or 'every interface'} without a login: "
                "set FLOWER_BASIC_AUTH=user:password (tsp-celery ops init makes one), or "
                "FLOWER_ADDRESS=127.0.0.1")
    return None


@ops.command(context_settings={"ignore_unknown_options": True})
@click.option("--port", type=click.IntRange(1, 65535), envvar="FLOWER_PORT", default=5555,
              show_default=True, help="Port Flower listens on [env: FLOWER_PORT].")
@click.argument("flower_args", nargs=-1, type=click.UNPROCESSED)
def flower(port: int, flower_args: tuple[str, ...]) -> None:
    """Start Flower (`celery -A tasks flower`) on FLOWER_ADDRESS (default 127.0.0.1); anywhere
    else only with FLOWER_BASIC_AUTH set. Extra arguments go to Flower."""
    for arg in flower_args:
        if arg.split("=")[0] in ("--address", "--basic-auth", "--basic_auth"):
            raise click.UsageError(f"{arg.split('=')[0]}: set FLOWER_ADDRESS or "
                                   "FLOWER_BASIC_AUTH instead (argv is visible to every user)")
    address = os.environ.get("FLOWER_ADDRESS", "127.0.0.1")
    problem = flower_exposure_problem(address, os.environ.get("FLOWER_BASIC_AUTH", ""))
    if problem:
        raise click.UsageError(problem)
    os.environ["FLOWER_ADDRESS"] = address  # Flower reads FLOWER_* itself
    if not os.environ.get("FLOWER_BASIC_AUTH"):
        os.environ.pop("FLOWER_BASIC_AUTH", None)  # empty would lock everybody out
    argv = ["celery", "-A", "tasks", "flower", f"--port={port}", *flower_args]
    os.execvp(argv[0], argv)


commands = [health, ops]
