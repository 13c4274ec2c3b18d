"""The ``resolve`` fixture: what a container, pod or Procfile line really executes.

Compose, Kubernetes and the Procfile each spell commands their own way (argv lists, `sh -c`
scripts with variables, a launcher script). ``resolve`` runs such a command for real, through
the same shell, but with stand-ins for ``tsp-celery`` and ``celery`` first on PATH that print
the argv they were given, so tests check the command line that will really run.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from deploy_helpers import ROOT, WORKER_LAUNCHER

# Prints its own name, then each argument, one per line.
_STAND_IN = """#!/bin/sh
printf '%s\\n' "$(basename "$0")"
for a in "$@"; do printf '%s\\n' "$a"; done
"""


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
