"""Gateway commands: ``tsp-celery gateway`` (serve the HTTP API and jobs page) and
``tsp-celery tokens create|list|revoke`` (the API tokens it accepts)."""

from __future__ import annotations

import json

import click

from tsp_celery.settings import Settings

_URL_HELP = "Redis URL [default: $TSP_CELERY_REDIS_URL or redis://localhost:6379/0]."


def _settings(redis_url: str | None) -> Settings:
    try:
        return Settings.from_env(redis_url=redis_url)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on (0.0.0.0 only behind a TLS proxy or ingress).")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option("--max-body-bytes", type=click.IntRange(min=1024), default=None,
              help="Largest request body, also after gzip inflation [default: 16 MiB].")
@click.option("--redis-url", default=None, help=_URL_HELP)
def gateway(host: str, port: int, max_body_bytes: int | None, redis_url: str | None) -> None:
    """Serve the HTTP API and the jobs page (see docs/gateway.md)."""
    try:
        import uvicorn

        from tsp_celery.gateway.app import DEFAULT_MAX_BODY_BYTES, create_app
    except ImportError as exc:
        from tsp_celery.errors import OptionalDependencyError

        raise OptionalDependencyError(
            f"the gateway needs its extra: pip install 'tsp-celery[gateway]' ({exc})") from exc
    app = create_app(_settings(redis_url), max_body_bytes or DEFAULT_MAX_BODY_BYTES)
    # Open event streams would hold up a shutdown forever: give them a few seconds.
    uvicorn.run(app, host=host, port=port, timeout_graceful_shutdown=5, log_level="info")


@click.group()
def tokens() -> None:
    """Create, list and revoke the gateway's API tokens."""


def _store(redis_url: str | None):
    from tsp_celery.cluster.connection import connect_settings
    from tsp_celery.cluster.keys import Keys
    from tsp_celery.gateway.tokens import TokenStore

    settings = _settings(redis_url)
    return TokenStore(connect_settings(settings), Keys(settings.prefix))


@tokens.command("create")
@click.argument("name")
@click.option("--max-nodes", type=click.IntRange(min=3), default=None,
              help="Largest instance this token may submit [default: 20000].")
@click.option("--max-job-seconds", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Largest time budget per job [default: 600].")
@click.option("--max-active-jobs", type=click.IntRange(min=1), default=None,
              help="Queued plus running jobs at once [default: 3].")
@click.option("--redis-url", default=None, help=_URL_HELP)
def create(name: str, max_nodes: int | None, max_job_seconds: float | None,
           max_active_jobs: int | None, redis_url: str | None) -> None:
    """Create a token called NAME; the token itself is printed once, alone on the last line."""
    from tsp_celery.gateway.tokens import TokenLimits

    given = {"max_nodes": max_nodes, "max_job_seconds": max_job_seconds,
             "max_active_jobs": max_active_jobs}
    limits = TokenLimits(**{k: v for k, v in given.items() if v is not None})
    token = _store(redis_url).create(name, limits)
    click.echo(f"token {name!r}: max {limits.max_nodes} nodes, {limits.max_job_seconds:g} s "
               f"per job, {limits.max_active_jobs} active jobs. It is shown only now:", err=True)
    click.echo(token)


@tokens.command("list")
@click.option("--redis-url", default=None, help=_URL_HELP)
def list_tokens(redis_url: str | None) -> None:
    """List tokens (id, name, limits; never the secrets) as JSON lines."""
    for row in _store(redis_url).tokens():
        click.echo(json.dumps(row))


@tokens.command("revoke")
@click.argument("token_id")
@click.option("--redis-url", default=None, help=_URL_HELP)
def revoke(token_id: str, redis_url: str | None) -> None:
    """Revoke TOKEN_ID (the hex part after tspg_); its jobs keep running."""
    if not _store(redis_url).revoke(token_id):
        raise click.UsageError(f"no token {token_id!r}")
    click.echo(f"revoked {token_id}")


commands = [gateway, tokens]
