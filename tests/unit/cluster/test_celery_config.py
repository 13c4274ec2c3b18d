"""The Celery configuration: the settings that make units safe on Redis, asserted one by one."""

from __future__ import annotations

import ssl

import pytest

from tsp_celery.cluster.celery_config import (
    MAX_UNIT_BUDGET_S,
    MERGE_QUEUE,
    MERGE_TASK,
    SOLVE_QUEUE,
    SOLVE_TASK,
    VISIBILITY_TIMEOUT_S,
    celery_config,
    make_app,
    ssl_options,
    unit_limits,
)
from tsp_celery.settings import Settings

pytestmark = pytest.mark.timeout(20)


def cfg(url: str = "redis://127.0.0.1:6379/0", prefix: str = "tspc") -> dict:
    return celery_config(Settings(redis_url=url, prefix=prefix))


def test_json_only_on_the_wire():
    c = cfg()
    assert c["task_serializer"] == c["result_serializer"] == "json"
    assert c["accept_content"] == c["result_accept_content"] == ["json"]


def test_delivery_safety_settings():
    c = cfg()
    assert c["task_acks_late"] is True
    assert c["task_reject_on_worker_lost"] is True
    assert c["worker_prefetch_multiplier"] == 1
    assert c["worker_cancel_long_running_tasks_on_connection_loss"] is True
    assert c["broker_connection_retry_on_startup"] is True
    assert c["result_backend_always_retry"] is True
    assert c["result_expires"] >= 3600
    assert c["worker_send_task_events"] is True and c["task_send_sent_event"] is True


def test_a_gevent_worker_can_ack_from_every_greenlet_at_once():
    """bench/scale.py runs 250 greenlets a process; kombu's own cap (10) failed their acks."""
    from kombu.transport.redis import Channel

    assert "max_connections" in Channel.from_transport_options  # kombu reads this key
    assert cfg()["broker_transport_options"]["max_connections"] >= 250 > Channel.max_connections


def test_visibility_timeout_is_the_same_in_all_three_places_and_above_every_hard_limit():
    c = cfg()
    assert (c["broker_transport_options"]["visibility_timeout"]
            == c["result_backend_transport_options"]["visibility_timeout"]
            == c["visibility_timeout"] == VISIBILITY_TIMEOUT_S)
    _soft, hard = unit_limits(MAX_UNIT_BUDGET_S * 10)
    assert hard < VISIBILITY_TIMEOUT_S
    assert c["task_time_limit"] < VISIBILITY_TIMEOUT_S


def test_unit_limits_leave_the_solver_its_budget():
    soft, hard = unit_limits(3.0)
    assert 3.0 < soft < hard
    assert unit_limits(1e9) == unit_limits(MAX_UNIT_BUDGET_S)


def test_merge_has_its_own_queue_and_plain_workers_consume_both():
    c = cfg()
    assert c["task_routes"][MERGE_TASK]["queue"] == MERGE_QUEUE
    assert c["task_routes"][SOLVE_TASK]["queue"] == SOLVE_QUEUE
    assert {q.name for q in c["task_queues"]} == {SOLVE_QUEUE, MERGE_QUEUE}
    assert c["task_default_queue"] == SOLVE_QUEUE


def test_prefix_isolates_broker_and_backend_keys():
    a, b = cfg(prefix="a"), cfg(prefix="b")
    assert a["broker_transport_options"]["global_keyprefix"] == "a:celery:"
    assert b["result_backend_transport_options"]["global_keyprefix"] == "b:celery:"


def test_password_in_the_url_reaches_broker_and_backend():
    url = "redis://:s3cret@cache.example:6380/4"
    app = make_app(Settings(redis_url=url))
    assert app.conf.broker_url == app.conf.result_backend == url
    conn = app.connection_for_write()
    assert conn.password == "s3cret" and conn.hostname == "cache.example" and conn.port == 6380
    backend = app.backend
    assert backend.connparams["password"] == "s3cret"
    assert backend.connparams["db"] == 4
    assert cfg(url)["broker_use_ssl"] is None


def test_rediss_sets_the_ssl_options_from_the_url_query():
    url = "rediss://:pw@cache.example:6380/0?ssl_cert_reqs=required&ssl_ca_certs=/etc/ca.pem"
    c = cfg(url)
    want = {"ssl_cert_reqs": ssl.CERT_REQUIRED, "ssl_ca_certs": "/etc/ca.pem"}
    assert c["broker_use_ssl"] == want and c["redis_backend_use_ssl"] == want
    app = make_app(Settings(redis_url=url))
    assert app.connection_for_write().ssl == want
    assert app.backend.connparams["ssl_cert_reqs"] == ssl.CERT_REQUIRED
    assert app.backend.connparams["password"] == "pw"


def test_rediss_without_query_requires_certificates():
    assert ssl_options("rediss://h:6380/0") == {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    assert ssl_options("rediss://h/0?ssl_cert_reqs=CERT_NONE") == {"ssl_cert_reqs": ssl.CERT_NONE}
    assert ssl_options("redis://h/0") is None
    with pytest.raises(ValueError, match="ssl_cert_reqs"):
        ssl_options("rediss://h/0?ssl_cert_reqs=maybe")


def test_tasks_package_exposes_the_configured_app():
    import tasks

    assert tasks.app.conf.task_acks_late is True
    assert {SOLVE_TASK, MERGE_TASK} <= set(tasks.app.tasks)
