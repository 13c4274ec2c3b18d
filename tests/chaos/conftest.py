"""Fixtures of the chaos tests (the harness itself is ``chaos_harness.py``)."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from chaos_harness import Cluster, RedisServer


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A private dir for AOF files and process logs (not pytest's tmp_path, whose rotation by
    concurrent pytest runs on a shared machine could delete it mid-test)."""
    path = Path(tempfile.mkdtemp(prefix="tsp-chaos-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def redis_server(workdir) -> Iterator[RedisServer]:
    server = RedisServer(workdir)
    yield server
    server.kill()


@pytest.fixture
def cluster(redis_server, workdir, request) -> Iterator[Cluster]:
    c = Cluster(redis_server, workdir)
    yield c
    c.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        sys.stderr.write(c.logs())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so fixtures can print logs of a failed test."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
