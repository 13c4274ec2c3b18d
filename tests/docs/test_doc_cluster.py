"""The quick start's cluster examples, run against a real cluster, print what the docs show.

Starts what the quick start starts (a redis-server of its own, a plain ``tsp-celery
coordinator``, a Celery worker with 2 slots, as on the documented 2-core machine), then runs
every command of the blocks marked ``<!-- test: cluster output -->`` in document order, in a
folder holding a copy of ``examples/``, with the documented budgets. A job id the docs show is
replaced by the one the program printed at that place. Outputs are compared line by line
through ``normalise_cluster``; ``watch`` prints a line per change (how many depends on the
run), so only its last line is compared.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from doc_helpers import ROOT, SHELL_LANGS, Command, blocks, commands, doc_id, normalise_cluster
from processes import RedisServer, Service, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

JOB_ID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{12}\b")
DOCS = [ROOT / "docs" / "quickstart.md"]


def cluster_commands(path: Path) -> list[Command]:
    return [c for b in blocks(path) if b.lang in SHELL_LANGS and b.needs_cluster
            for c in commands(b)]


@pytest.fixture(scope="module")
def cluster_env() -> Iterator[tuple[dict, Path]]:
    workdir = Path(tempfile.mkdtemp(prefix="tsp-doc-cluster-"))
    shutil.copytree(ROOT / "examples", workdir / "examples")
    server = RedisServer(workdir, appendonly=False)
    env = {**os.environ, "TSP_CELERY_REDIS_URL": server.url, "COLUMNS": "80",
           "PYTHONUNBUFFERED": "1"}
    services = [
        Service("coordinator", [sys.executable, "-m", "tsp_celery", "coordinator"], env,
                workdir / "coordinator.log"),
        Service("worker", [sys.executable, "-m", "celery", "-A", "tasks", "worker",
                           "--loglevel", "INFO", "--concurrency", "2", "--without-gossip",
                           "--without-mingle"], env, workdir / "worker.log"),
    ]
    try:
        from tsp_celery.cluster.client import ClusterClient
        from tsp_celery.settings import Settings

        client = ClusterClient(Settings.from_env(env))
        wait_until(lambda: client.leader() and client.workers(), 60,
                   "a leader and a worker\n" + "\n".join(s.tail() for s in services))
        yield env, workdir
    finally:
        for service in services:
            service.stop(grace_s=5)
        server.kill()
        shutil.rmtree(workdir, ignore_errors=True)


def check(path: Path, env: dict, cwd: Path) -> list[str]:
    """Run ``path``'s cluster commands in order; one message per command that misbehaves."""
    failures, ids = [], {}
    for cmd in cluster_commands(path):
        text = JOB_ID.sub(lambda m: ids.get(m.group(0), m.group(0)), cmd.text)
        proc = subprocess.run(["bash", "-c", text], cwd=cwd, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=120)
        got = proc.stdout.rstrip("\n").split("\n")
        for shown, printed in zip(JOB_ID.findall("\n".join(cmd.output)),
                                  JOB_ID.findall(proc.stdout), strict=False):
            ids.setdefault(shown, printed)
        want = cmd.output
        if cmd.text.startswith("tsp-celery watch "):
            got, want = got[-1:], want[-1:]
        where = f"{doc_id(path)}:{cmd.line}: $ {cmd.text}"
        if proc.returncode != cmd.block.exit_code:
            failures.append(f"{where}\n  exit {proc.returncode}:\n{proc.stdout}")
        elif list(map(normalise_cluster, got)) != list(map(normalise_cluster, want)):
            failures.append(f"{where}\n  prints:\n" + "\n".join(got)
                            + "\n  documented:\n" + "\n".join(want))
    return failures


def test_the_quick_start_has_cluster_examples_to_check():
    assert len(cluster_commands(DOCS[0])) >= 7


@pytest.mark.parametrize("path", DOCS, ids=doc_id)
def test_documented_cluster_commands_print_what_the_docs_show(path, cluster_env):
    env, cwd = cluster_env
    failures = check(path, env, cwd)
    assert not failures, "\n\n".join(failures)
