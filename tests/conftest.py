"""Shared fixtures: paths to test data, and a flushed Redis database of the tests' own.

The tests start their own redis-server (one per session, on a free port, in a temp dir, killed
at the end), so they never read or flush a Redis they did not start. To use another Redis, set
``TSP_CELERY_TEST_REDIS_URL`` to a database the tests may flush (e.g. redis://host:6380/13).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from processes import RedisServer

DATA = Path(__file__).parent / "data"
EXAMPLES = Path(__file__).parent.parent / "examples"
TEST_REDIS_ENV = "TSP_CELERY_TEST_REDIS_URL"
# Markers of the suites that start clusters of processes: they count as slow and run last.
CLUSTER_SUITES = ("chaos", "integration")


@pytest.hookimpl(tryfirst=True)  # before pytest's own hook applies -m
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Quick tests first, then slow ones, then the cluster suites (also marked slow, so that
    ``-m "not slow"`` is the quick subset)."""
    def rank(item: pytest.Item) -> int:
        if any(item.get_closest_marker(m) for m in CLUSTER_SUITES):
            item.add_marker(pytest.mark.slow)
            return 2
        return 1 if item.get_closest_marker("slow") else 0

    items.sort(key=rank)


def pytest_report_header() -> str:
    override = os.environ.get(TEST_REDIS_ENV)
    if override:
        return f"redis: {override} ({TEST_REDIS_ENV}; flushed by the tests)"
    return "redis: a redis-server of this test session, on a free port"


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture(scope="session")
def test_redis_url() -> Iterator[str]:
    """URL of the tests' Redis database: the one ``TSP_CELERY_TEST_REDIS_URL`` names, else a
    redis-server started for this session (started on first use only)."""
    override = os.environ.get(TEST_REDIS_ENV)
    if override:
        yield override
        return
    # not pytest's tmp_path, whose rotation by concurrent pytest runs could delete it mid-run
    workdir = Path(tempfile.mkdtemp(prefix="tsp-test-redis-"))
    try:
        server = RedisServer(workdir, appendonly=False)
        yield server.url
        server.kill()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def redis_url(test_redis_url: str) -> Iterator[str]:
    """URL of a real, flushed Redis database; a missing Redis fails the test (never skips)."""
    client = redis.Redis.from_url(test_redis_url, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.ConnectionError as exc:
        client.close()
        pytest.fail(f"no Redis answers at {test_redis_url} ({TEST_REDIS_ENV}): {exc}",
                    pytrace=False)
    yield test_redis_url
    client.flushdb()
    client.close()
