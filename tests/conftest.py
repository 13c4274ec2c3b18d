"""Shared fixtures: paths to test data, and a flushed Redis database for tests that need one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
EXAMPLES = Path(__file__).parent.parent / "examples"

# Tests use their own Redis database so a developer's db 0 is never flushed.
TEST_REDIS_URL = os.environ.get("TSP_CELERY_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture
def redis_url() -> str:
    """URL of a real, flushed Redis database; a missing Redis fails the test (never skips)."""
    import redis

    client = redis.Redis.from_url(TEST_REDIS_URL)
    client.ping()
    client.flushdb()
    yield TEST_REDIS_URL
    client.flushdb()
    client.close()
