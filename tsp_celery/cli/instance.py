"""Loading an instance FILE for a command: the problem, with the reader's warnings on stderr.

The reader keeps what it accepted but found odd (unknown keys, ignored sections) on
``Problem.warnings``; commands show each as one ``warning:`` line before they start working.
"""

from __future__ import annotations

import click

from tsp_celery.problem import Problem, load_problem


def load_instance(file: str) -> Problem:
    """``load_problem(file)``, echoing its warnings as ``warning: FILE: line N: ...``."""
    problem = load_problem(file)
    for warning in problem.warnings:
        click.echo(f"warning: {file}: {warning}", err=True)
    return problem
