"""Settings: environment overrides, validation, and explicit overrides winning."""

from __future__ import annotations

import pytest

from tsp_celery.settings import DEFAULT_REDIS_URL, Settings

pytestmark = pytest.mark.timeout(10)


def test_defaults_without_environment():
    s = Settings.from_env({})
    assert s.redis_url == DEFAULT_REDIS_URL
    assert s.lease_renew_ms * 2 <= s.lease_ttl_ms


def test_environment_is_read_and_typed():
    s = Settings.from_env(
        {
            "TSP_CELERY_REDIS_URL": "rediss://:secret@cache.example:6380/2",
            "TSP_CELERY_MAX_NODES": "500",
            "TSP_CELERY_HEARTBEAT_TTL_S": "2.5",
            "TSP_CELERY_PREFIX": "staging",
        }
    )
    assert s.redis_url.startswith("rediss://:secret@")
    assert s.max_nodes == 500
    assert s.heartbeat_ttl_s == 2.5
    assert s.prefix == "staging"


def test_explicit_override_beats_environment_and_none_is_ignored():
    env = {"TSP_CELERY_REDIS_URL": "redis://a:6379/0"}
    assert Settings.from_env(env, redis_url="redis://b:6379/1").redis_url == "redis://b:6379/1"
    assert Settings.from_env(env, redis_url=None).redis_url == "redis://a:6379/0"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"redis_url": "http://localhost:6379"},
        {"lease_ttl_ms": 1000, "lease_renew_ms": 800},
        {"max_nodes": 0},
        {"max_active_jobs": 0},
        {"max_job_seconds": float("inf")},
        {"max_job_seconds": float("nan")},
    ],
)
def test_invalid_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        Settings(**kwargs)


def test_a_bad_url_from_the_environment_names_the_variable_never_the_value():
    with pytest.raises(ValueError) as info:
        Settings.from_env({"TSP_CELERY_REDIS_URL": "http://:hunter2@cache:6379/0"})
    assert "TSP_CELERY_REDIS_URL" in str(info.value) and "hunter2" not in str(info.value)
    with pytest.raises(ValueError) as info:
        Settings(redis_url="htp://:hunter2@cache")
    assert "hunter2" not in str(info.value)


def test_a_bad_number_names_its_variable():
    with pytest.raises(ValueError, match="integer in TSP_CELERY_MAX_NODES, got 'lots'"):
        Settings.from_env({"TSP_CELERY_MAX_NODES": "lots"})


def test_ca_path_joins_a_rediss_url_only():
    tls = Settings.from_env({"TSP_CELERY_REDIS_URL": "rediss://:pw@h:6380/0?ssl_cert_reqs=required",
                             "TSP_CELERY_REDIS_CA_CERTS": "/etc/ca dir/ca.pem"})
    assert tls.redis_url.endswith("?ssl_cert_reqs=required&ssl_ca_certs=/etc/ca%20dir/ca.pem")
    plain = Settings(redis_url="redis://h:6379/0", redis_ca_certs="/etc/ca.pem")
    assert plain.redis_url == "redis://h:6379/0"
    named = Settings(redis_url="rediss://h/0?ssl_ca_certs=/a.pem", redis_ca_certs="/b.pem")
    assert named.redis_url == "rediss://h/0?ssl_ca_certs=/a.pem", "the URL's own CA wins"


def test_a_setting_is_configured_only_when_its_variable_is_set_and_not_empty():
    from tsp_celery.settings import is_configured

    assert is_configured("matrix_budget_mb", {"TSP_CELERY_MATRIX_BUDGET_MB": "1024"})
    assert not is_configured("matrix_budget_mb", {"TSP_CELERY_MATRIX_BUDGET_MB": ""})
    assert not is_configured("matrix_budget_mb", {"TSP_CELERY_PREFIX": "x"})
