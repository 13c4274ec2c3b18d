"""Sentinel URLs and durable commits, without sentinels: how settings, the Celery config and the
one ``connect`` read them, and what WAIT says on a Redis without replicas.

The real failover runs in tests/chaos/test_sentinel_failover.py.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import redis

from tsp_celery.cluster.celery_config import celery_config, make_app
from tsp_celery.cluster.connection import connect, sentinel_nodes
from tsp_celery.cluster.keys import Keys
from tsp_celery.cluster.store import JobStore
from tsp_celery.errors import ClusterUnreachableError
from tsp_celery.settings import Settings

pytestmark = pytest.mark.timeout(30)

SENTINELS = "sentinel://:r%40pw@s1:26379/2;sentinel://s2:26380;sentinel://s3"


def test_sentinel_settings_from_the_environment():
    s = Settings.from_env({"TSP_CELERY_REDIS_URL": SENTINELS,
                           "TSP_CELERY_SENTINEL_MASTER": "tsp",
                           "TSP_CELERY_SENTINEL_PASSWORD": "spw",
                           "TSP_CELERY_WAIT_REPLICAS": "1",
                           "TSP_CELERY_WAIT_TIMEOUT_MS": "250"})
    assert s.is_sentinel and s.sentinel_master == "tsp" and s.sentinel_password == "spw"
    assert (s.wait_replicas, s.wait_timeout_ms) == (1, 250)
    defaults = Settings()
    assert not defaults.is_sentinel and defaults.sentinel_master == "mymaster"
    assert defaults.wait_replicas == 0  # today's behaviour unless asked


@pytest.mark.parametrize("url", [
    "sentinel://s1:26379;redis://s2:6379",  # a mix is not a sentinel list
    "sentinel://",
    "sentinel://s1;;sentinel://s2",
])
def test_malformed_sentinel_lists_are_refused_without_showing_them(url):
    with pytest.raises(ValueError) as info:
        Settings(redis_url=url.replace("s1", ":secret@s1"))
    assert "secret" not in str(info.value)


@pytest.mark.parametrize("kwargs", [{"wait_replicas": -1}, {"wait_timeout_ms": 0},
                                    {"sentinel_master": ""}])
def test_bad_wait_and_master_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        Settings(**kwargs)


def test_sentinel_nodes_read_every_sentinel_and_the_primary_from_the_first_url():
    nodes, primary = sentinel_nodes(SENTINELS)
    assert nodes == [("s1", 26379), ("s2", 26380), ("s3", 26379)]
    assert primary == {"db": 2, "username": None, "password": "r@pw"}


def test_celery_broker_and_backend_use_the_sentinels():
    settings = Settings(redis_url=SENTINELS, sentinel_master="tsp", sentinel_password="spw")
    config = celery_config(settings)
    for options in (config["broker_transport_options"],
                    config["result_backend_transport_options"]):
        assert options["master_name"] == "tsp"
        assert options["sentinel_kwargs"]["password"] == "spw"
        assert options["sentinel_kwargs"]["socket_timeout"] > 0  # a dead sentinel cannot hang
    app = make_app(settings)
    assert type(app.backend).__name__ == "SentinelBackend"
    assert app.connection_for_write().transport_cls == "sentinel"
    assert "r@pw" not in app.backend.as_uri() and "r%40pw" not in app.backend.as_uri()


def test_plain_urls_get_no_sentinel_options():
    config = celery_config(Settings(redis_url="redis://h:6379/0"))
    assert "master_name" not in config["broker_transport_options"]
    assert "master_name" not in config["result_backend_transport_options"]


def test_no_sentinel_answering_is_unreachable_with_the_password_redacted():
    url = "sentinel://:topsecret@127.0.0.1:1;sentinel://127.0.0.1:2"
    with pytest.raises(ClusterUnreachableError) as info:
        connect(url, probe_timeout_s=0.5)
    text = str(info.value)
    assert "topsecret" not in text and "No master found for 'mymaster'" in text
    assert "127.0.0.1:2" in text and "<redis.client" not in text


def test_cli_takes_the_master_name_and_exits_3_when_no_sentinel_answers():
    proc = subprocess.run([sys.executable, "-m", "tsp_celery", "status", "x", "--redis-url",
                           "sentinel://127.0.0.1:1", "--sentinel-master", "other"],
                          capture_output=True, text=True, timeout=20)
    assert proc.returncode == 3 and "No master found for 'other'" in proc.stderr


def test_wait_is_skipped_with_zero_replicas_and_reports_a_shortfall_without_any(redis_url):
    client = redis.Redis.from_url(redis_url)
    keys = Keys("waittest")
    assert JobStore(client, keys, Settings(redis_url=redis_url)).replicate("x")
    store = JobStore(client, keys, Settings(redis_url=redis_url, wait_replicas=1,
                                            wait_timeout_ms=200))
    started = time.monotonic()
    assert not store.replicate("x")  # a lone Redis: nobody confirms
    assert time.monotonic() - started >= 0.15  # it did wait for the timeout
    client.close()


def test_health_is_yellow_when_fewer_replicas_are_online_than_commits_wait_for(redis_url):
    from tsp_celery.health import check_health

    plain = check_health(Settings(redis_url=redis_url), "worker")
    assert plain.ok and plain.degraded is None and plain.reason.startswith("ok")
    waiting = check_health(Settings(redis_url=redis_url, wait_replicas=1), "worker")
    assert waiting.ok, "a missing replica must not fail probes: the cluster still serves"
    assert waiting.degraded == ("0 of 1 replica(s) online: commits are not durable, a failover "
                                "now could lose them")
    assert waiting.reason.startswith("degraded (0 of 1 replica(s) online")
