"""The ``tsp-celery`` command: one click group; each concept's commands live in its own module."""

from __future__ import annotations

import logging
import os
import sys

import click

from tsp_celery.cli import (
    cluster_commands,
    gateway_commands,
    ha_commands,
    ops_commands,
    problem_commands,
    solve_command,
)
from tsp_celery.cluster.connection import install_log_redaction, redact_text
from tsp_celery.errors import EXIT_USAGE, TspCeleryError
from tsp_celery.logformat import TEXT_FORMAT


def _verbosity(_ctx: click.Context, _param: click.Parameter, count: int) -> None:
    """-v info, -vv debug; counted before or after the command name alike."""
    level = logging.WARNING - 10 * min(count, 2)
    logging.basicConfig(
        level=level, format=TEXT_FORMAT, stream=sys.stderr
    )
    root = logging.getLogger()
    root.setLevel(min(root.level, level))
    install_log_redaction()


def _sentinel_master(_ctx: click.Context, _param: click.Parameter, name: str | None) -> None:
    """Every command builds its Settings from the environment: the option sets it there."""
    if name is not None:
        os.environ["TSP_CELERY_SENTINEL_MASTER"] = name


def _sentinel_option() -> click.Option:
    return click.Option(["--sentinel-master"], default=None, expose_value=False,
                        callback=_sentinel_master, is_eager=True,
                        help="With a sentinel:// Redis URL: the primary's name "
                             "[default: $TSP_CELERY_SENTINEL_MASTER or mymaster].")


def _verbose_option() -> click.Option:
    return click.Option(["-v", "--verbose"], count=True, expose_value=False, callback=_verbosity,
                        help="More log output on stderr (-v info: each round; -vv debug).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tsp-celery")
def cli() -> None:
    """tsp-celery: near-optimal TSP tours, embedded or on a Celery cluster."""


cli.params.append(_verbose_option())
for _module in (problem_commands, solve_command, cluster_commands, ha_commands, ops_commands,
                gateway_commands):
    for _command in _module.commands:
        _command.params.append(_verbose_option())
        for _sub in [_command, *getattr(_command, "commands", {}).values()]:
            if any(p.name == "redis_url" for p in _sub.params):
                _sub.params.append(_sentinel_option())
        cli.add_command(_command)


def main() -> None:
    """Console entry point: known errors become one line on stderr and a documented exit code."""
    try:
        cli.main(standalone_mode=False)
    except TspCeleryError as exc:
        click.echo(f"error: {redact_text(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.message = redact_text(exc.message)  # e.g. a --redis-url value echoed back
        exc.show()
        sys.exit(EXIT_USAGE if exc.exit_code == 1 else exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
