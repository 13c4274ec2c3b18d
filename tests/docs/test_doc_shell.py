"""The shell commands the docs show run, exit as documented, and print what is shown.

Runs, per document and in document order (later commands use files earlier ones wrote), every
``tsp-celery info|evaluate|generate|solve`` line of its bash/console blocks, plus the ``printf``
and ``head`` lines that make or show their files, in a temporary folder holding a copy of
``examples/``. Blocks marked ``<!-- no-test -->`` are skipped (cluster commands need servers);
``<!-- test: output -->`` blocks must print what they show, line by line, after the explicit
normalisation of ``doc_helpers.normalise`` (timings, lengths and gaps vary), and run with the
budgets they show; other blocks run with budgets cut to one second (``--time 5`` runs as
``--time 1``). ``<!-- test: exit=N -->`` sets the expected exit code. Every console block of
README.md and the quick start is an output block, so their examples cannot drift.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from doc_helpers import (
    ROOT,
    SHELL_LANGS,
    Command,
    blocks,
    commands,
    doc_id,
    doc_paths,
    normalise,
)

RUN = re.compile(r"^(tsp-celery (info|evaluate|generate|solve)\b|printf |head )")
# No test may touch a real Redis: a --cluster line that slipped through fails fast instead.
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
COMMAND_TIMEOUT_S = 60


def runnable(path: Path) -> list[Command]:
    return [c for b in blocks(path) if b.lang in SHELL_LANGS and b.tested and not b.needs_cluster
            for c in commands(b) if RUN.match(c.text)]


def short_budget(command: str) -> str:
    """``--time N`` with N > 1 becomes ``--time 1``: the docs' budgets, cut for the test."""
    return re.sub(r"--time[ =](\d+(?:\.\d+)?)",
                  lambda m: "--time 1" if float(m.group(1)) > 1 else m.group(0), command)


def workdir(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    (tmp_path / "docs" / "images").mkdir(parents=True)
    return tmp_path


def run(command: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TSP_CELERY_REDIS_URL": UNREACHABLE_REDIS, "COLUMNS": "80"}
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=COMMAND_TIMEOUT_S)


DOCS = [p for p in doc_paths() if runnable(p)]


def check(path: Path, cwd: Path) -> list[str]:
    """Run ``path``'s commands in order in ``cwd``; one message per command that misbehaves."""
    failures = []
    for cmd in runnable(path):
        where = f"{doc_id(path)}:{cmd.line}: $ {cmd.text}"
        if "--cluster" in cmd.text:
            failures.append(f"{where}\n  needs a cluster: mark its block <!-- no-test -->")
            continue
        compared = "output" in cmd.block.markers
        proc = run(cmd.text if compared else short_budget(cmd.text), cwd)
        shown = proc.stdout.rstrip("\n")
        if proc.returncode != cmd.block.exit_code:
            failures.append(f"{where}\n  exit {proc.returncode}, documented "
                            f"{cmd.block.exit_code}:\n{shown}")
        elif compared:
            got = [line.rstrip() for line in shown.split("\n")] if shown else []
            want = [line.rstrip() for line in cmd.output]
            if list(map(normalise, got)) != list(map(normalise, want)):
                failures.append(f"{where}\n  prints:\n" + "\n".join(got)
                                + "\n  documented:\n" + "\n".join(want))
    return failures


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[Path, list[str]]:
    """Every doc's commands, the docs side by side (each in its own folder): most of the time is
    interpreter start-up and fixed solve budgets, which overlap well."""
    dirs = {p: workdir(tmp_path_factory.mktemp(p.stem)) for p in DOCS}
    with ThreadPoolExecutor(max_workers=len(DOCS)) as pool:
        futures = {p: pool.submit(check, p, d) for p, d in dirs.items()}
        return {p: f.result() for p, f in futures.items()}


def test_the_docs_show_commands_to_run():
    names = {p.name for p in DOCS}
    assert {"README.md", "quickstart.md", "user-guide.md"} <= names, names


@pytest.mark.parametrize("name", ["README.md", "docs/quickstart.md"])
def test_every_example_a_newcomer_runs_first_is_compared_with_its_output(name):
    unchecked = [b.where for b in blocks(ROOT / name)
                 if b.lang == "console" and b.tested and "output" not in b.markers]
    # (cluster blocks are compared by test_doc_cluster.py: they carry "cluster output")
    assert not unchecked, f"mark these <!-- test: output --> (or <!-- no-test -->): {unchecked}"


@pytest.mark.slow  # the examples run with the budgets they show (about a minute in all)
@pytest.mark.timeout(300)
@pytest.mark.parametrize("path", DOCS, ids=doc_id)
def test_documented_commands_run(path: Path, outcomes: dict[Path, list[str]]):
    assert not outcomes[path], "\n\n".join(outcomes[path])


def test_short_budget_rewrites_only_long_budgets():
    assert short_budget("tsp-celery solve x.tsp --time 5 --out t.tour") == (
        "tsp-celery solve x.tsp --time 1 --out t.tour")
    assert short_budget("tsp-celery solve x.tsp --time=0.5") == "tsp-celery solve x.tsp --time=0.5"
