"""Helpers of the deployment tests (a module of its own name: no clash with other conftests)."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKER_LAUNCHER = ROOT / "ops" / "bin" / "tsp-celery-worker"
# Variables docker-compose.yml reads: cleared so a developer's shell cannot change the result.
COMPOSE_VARS = ("REDIS_PASSWORD", "FLOWER_BASIC_AUTH", "FLOWER_PORT", "TSP_CELERY_PREFIX",
                "TSP_CELERY_WORKER_CONCURRENCY", "TSP_CELERY_DATA", "TSP_CELERY_REDIS_URL",
                "TSP_CELERY_FLOWER_HOST", "GATEWAY_BIND", "GATEWAY_PORT", "GRAFANA_ADMIN_PASSWORD",
                "BASE_IMAGE", "EXTRA_CA_CERTS", "TSP_CELERY_REDIS_IMAGE")
# What `tsp-celery ops init` puts into .env (compose refuses to start without them).
COMPOSE_SECRETS = {"REDIS_PASSWORD": "0123abcd", "FLOWER_BASIC_AUTH": "ops:pw",
                   "GRAFANA_ADMIN_PASSWORD": "4567ef"}


def run_compose_config(**env: str) -> subprocess.CompletedProcess:
    """``docker-compose config`` with exactly ``env`` of the compose variables set."""
    exe = shutil.which("docker-compose")
    assert exe, "docker-compose is missing: apt-get install -y docker-compose (see .ci/run)"
    clean = {k: v for k, v in os.environ.items() if k not in COMPOSE_VARS}
    return subprocess.run([exe, "--profile", "tools", "config"], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=30)


def compose_config(**env: str) -> dict:
    """The file as docker-compose resolves it (anchors, merges, variables), with the secrets of
    ``ops init`` and ``env`` set."""
    proc = run_compose_config(**{**COMPOSE_SECRETS, **env})
    assert proc.returncode == 0, proc.stderr
    return yaml.safe_load(proc.stdout)


def console_scripts() -> set[str]:
    """Console script names declared in setup.cfg."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    lines = cfg["options.entry_points"]["console_scripts"].strip().splitlines()
    return {line.split("=")[0].strip() for line in lines}


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
