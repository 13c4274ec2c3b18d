"""The ``tsp-celery`` command: one click group; each concept's commands live in its own module."""

from __future__ import annotations

import logging
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
from tsp_celery.errors import EXIT_USAGE, TspCeleryError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tsp-celery")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """tsp-celery: near-optimal TSP tours, embedded or on a Celery cluster."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


for _module in (problem_commands, solve_command, cluster_commands, ha_commands, ops_commands,
                gateway_commands):
    for _command in _module.commands:
        cli.add_command(_command)


def main() -> None:
    """Console entry point: known errors become one line on stderr and a documented exit code."""
    try:
        cli.main(standalone_mode=False)
    except TspCeleryError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE if exc.exit_code == 1 else exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
