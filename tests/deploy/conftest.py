"""Helpers for the deployment tests: what a container, pod or Procfile line really executes.

Compose, Kubernetes and the Procfile each spell commands their own way (argv lists, `sh -c`
scripts with variables, a launcher script). ``resolve`` runs such a command for real, through
the same shell, but with stand-ins for ``tsp-celery`` and ``celery`` first on PATH that print
the argv they were given, so tests check the command line that will really run.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKER_LAUNCHER = ROOT / "ops" / "bin" / "tsp-celery-worker"
# Prints its own name, then each argument, one per line.
_STAND_IN = """#!/bin/sh
printf '%s\\n' "$(basename "$0")"
for a in "$@"; do printf '%s\\n' "$a"; done
"""


# Variables docker-compose.yml reads: cleared so a developer's shell cannot change the result.
COMPOSE_VARS = ("REDIS_PASSWORD", "FLOWER_BASIC_AUTH", "FLOWER_PORT", "TSP_CELERY_PREFIX",
                "TSP_CELERY_WORKER_CONCURRENCY", "TSP_CELERY_DATA", "TSP_CELERY_REDIS_URL")


def compose_config(**env: str) -> dict:
    """The file as docker-compose resolves it (anchors, merges, variables), with ``env`` set."""
    exe = shutil.which("docker-compose")
    assert exe, "docker-compose is missing: apt-get install -y docker-compose (see .ci/run)"
    clean = {k: v for k, v in os.environ.items() if k not in COMPOSE_VARS}
    proc = subprocess.run([exe, "--profile", "tools", "config"], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return yaml.safe_load(proc.stdout)


def console_scripts() -> set[str]:
    """Console script names declared in setup.cfg."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    lines = cfg["options.entry_points"]["console_scripts"].strip().splitlines()
    return {line.split("=")[0].strip() for line in lines}


@pytest.fixture
def resolve(tmp_path: Path) -> Callable[..., list[str]]:
    """``resolve(command, env=None)`` -> the argv that the program started at the end receives.

    ``command`` is an argv list (exec form) or a shell line (as honcho runs Procfile lines).
    A leading ``tsp-celery-worker`` is the launcher of ops/bin, as the image installs it.
    """
    bin_dir = tmp_path / "stand-ins"
    bin_dir.mkdir()
    for name in ("tsp-celery", "celery"):
        path = bin_dir / name
        path.write_text(_STAND_IN)
        path.chmod(0o755)

    def run(command: str | Sequence[str], env: dict[str, str] | None = None) -> list[str]:
        argv = ["sh", "-c", command] if isinstance(command, str) else list(command)
        if argv[0] == "tsp-celery-worker":
            argv = ["sh", str(WORKER_LAUNCHER), *argv[1:]]
        given = {k: v for k, v in (env or {}).items() if v is not None}  # compose: unset
        full_env = {**os.environ, **given,
                    "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
        proc = subprocess.run(argv, env=full_env, cwd=ROOT, capture_output=True, text=True,
                              timeout=30)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.splitlines()

    return run


def check_entry_point(argv: Sequence[str]) -> None:
    """Assert that ``argv`` runs one of the package's real entry points with valid arguments.

    ``tsp-celery SUB ...``: a console script of setup.cfg, SUB a command of the click group, and
    the arguments parse. ``celery -A tasks worker|flower``: the Celery app of the ``tasks``
    package, and a worker consumes exactly the queues the app routes to.
    """
    from tsp_celery.cli import cli

    program, *args = argv
    if program == "tsp-celery":
        assert program in console_scripts()
        assert args and args[0] in cli.commands, f"tsp-celery has no command {args[:1]}"
        command = cli.commands[args[0]]
        command.make_context(args[0], list(args[1:]))  # raises on unknown options or values
    elif program == "celery":
        assert args[:2] == ["-A", "tasks"], argv
        assert args[2] in ("worker", "flower"), argv
        from tasks import app

        if args[2] == "worker":
            queues = args[args.index("--queues") + 1].split(",")
            assert sorted(queues) == sorted(q.name for q in app.conf.task_queues)
    else:
        raise AssertionError(f"not an entry point of the package: {argv}")
