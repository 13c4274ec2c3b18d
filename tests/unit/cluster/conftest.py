"""Fixtures for the cluster unit tests: the same test against fakeredis[lua] and the real Redis."""

from __future__ import annotations

import uuid

import fakeredis
import pytest
import redis

from tsp_celery.cluster.keys import Keys


@pytest.fixture(params=["fakeredis", "redis"])
def any_redis(request):
    """A client on fakeredis (own server) or on the flushed real test database."""
    if request.param == "fakeredis":
        client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    else:
        client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    yield client
    client.close()


@pytest.fixture
def keys() -> Keys:
    return Keys(f"t{uuid.uuid4().hex[:8]}")
