"""Loading an instance FILE for a command: the problem, with the reader's warnings on stderr.

The reader keeps what it accepted but found odd (unknown keys, ignored sections) on
``Problem.warnings``; commands show each as one ``warning:`` line before they start working.
"""

from __future__ import annotations

import click

from tsp_celery.problem import Problem, load_problem
from tsp_celery.problem.textfile import MAX_INSTANCE_BYTES


def load_instance(file: str, max_bytes: int = MAX_INSTANCE_BYTES) -> Problem:
    """``load_problem(file, max_bytes)``, echoing its warnings as ``warning: FILE: line N: ...``."""
    problem = load_problem(file, max_bytes)
    for warning in problem.warnings:
        click.echo(f"warning: {file}: {warning}", err=True)
    return problem
