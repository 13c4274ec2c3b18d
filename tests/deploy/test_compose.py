"""docker-compose.yml: valid for docker-compose, scalable workers, commands the package really has.

The Redis command line itself runs against a real redis-server in test_redis_conf.py.

No Docker engine exists here, so the file is checked as compose itself resolves it
(``docker-compose config``) and every command is run through its shell with stand-in programs.
docker-compose is a CI requirement (Debian package ``docker-compose``): missing, this fails.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from deploy_helpers import ROOT, check_entry_point, compose_config, run_compose_config

from tsp_celery.settings import Settings

pytestmark = pytest.mark.timeout(60)

PYTHON_SERVICES = {"coordinator", "standby", "worker", "flower", "client", "gateway"}
MONITORING_SERVICES = {"prometheus", "grafana", "redis-exporter"}  # tests/observability


def mount_target_source(volume: str | dict) -> tuple[str, str]:
    """(target, source) of a volume entry, short ("src:dst:ro") or long syntax."""
    if isinstance(volume, dict):
        return volume["target"], volume["source"]
    source, target = volume.split(":")[:2]
    return target, source


@pytest.fixture(scope="module")
def config() -> dict:
    return compose_config()


@pytest.fixture(scope="module")
def services(config) -> dict:
    return config["services"]


def test_compose_config_quiet_passes():
    proc = subprocess.run(["docker-compose", "config", "-q"], cwd=ROOT, capture_output=True,
                          text=True, timeout=30, env={**os.environ, "REDIS_PASSWORD": "ab12",
                                                      "FLOWER_BASIC_AUTH": "a:b",
                                                      "GRAFANA_ADMIN_PASSWORD": "c3"})
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("missing", ["REDIS_PASSWORD", "FLOWER_BASIC_AUTH",
                                     "GRAFANA_ADMIN_PASSWORD"])
def test_no_start_without_the_secrets_of_ops_init(missing):
    env = {"REDIS_PASSWORD": "ab12", "FLOWER_BASIC_AUTH": "a:b", "GRAFANA_ADMIN_PASSWORD": "c3"}
    del env[missing]
    proc = run_compose_config(**env)
    assert proc.returncode != 0 and "run tsp-celery ops init first" in proc.stderr


def test_service_set(services):
    assert set(services) == {"redis"} | PYTHON_SERVICES | MONITORING_SERVICES
    assert services["client"]["profiles"] == ["tools"]
    for name in ("coordinator", "standby", "worker", "flower", "redis", "gateway"):
        assert "profiles" not in services[name], f"{name} must start with a plain `up`"


def test_worker_can_scale(services):
    worker = services["worker"]
    for key in ("container_name", "hostname", "ports"):
        assert key not in worker, f"worker has {key}: `--scale worker=N` would clash"


def test_worker_shuts_down_softly(services):
    worker = services["worker"]
    assert worker["environment"]["REMAP_SIGTERM"] == "SIGQUIT"
    assert worker["stop_grace_period"] == "60s"
    from tsp_celery.cluster.celery_config import celery_config

    soft = celery_config(Settings())["worker_soft_shutdown_timeout"]
    assert soft + 10 <= 60, "the grace period must cover Celery's soft shutdown"


def test_worker_runs_celery_worker_with_concurrency_from_env(services, resolve):
    worker = services["worker"]
    argv = resolve(worker["command"], env=worker["environment"])  # concurrency "" = unset
    check_entry_point(argv)
    assert argv[argv.index("--concurrency") + 1] == str(len(os.sched_getaffinity(0)))

    env = {**worker["environment"], "TSP_CELERY_WORKER_CONCURRENCY": "3"}
    argv = resolve(worker["command"], env=env)
    assert argv[argv.index("--concurrency") + 1] == "3"

    passed = compose_config(TSP_CELERY_WORKER_CONCURRENCY="5")["services"]["worker"]
    assert passed["environment"]["TSP_CELERY_WORKER_CONCURRENCY"] == "5"


def test_one_image_for_every_python_service(services):
    images = {services[name]["image"] for name in PYTHON_SERVICES}
    assert len(images) == 1
    for name in PYTHON_SERVICES:
        build = services[name]["build"]
        assert build["dockerfile"] == "ops/docker/Dockerfile"
        assert os.path.samefile(build["context"], ROOT)


def test_commands_and_healthchecks_are_real_entry_points(services, resolve):
    for name in PYTHON_SERVICES:
        service = services[name]
        check_entry_point(resolve(service["command"], env=service["environment"]))
        if "healthcheck" in service and name not in ("flower", "gateway"):  # HTTP checks
            test = service["healthcheck"]["test"]
            assert test[0] == "CMD"
            check_entry_point(test[1:])
            assert test[1:3] == ["tsp-celery", "health"]


def test_coordinators_differ_in_node_id_and_priority(services):
    seen = {}
    for name in ("coordinator", "standby"):
        command = services[name]["command"]
        assert command[:2] == ["tsp-celery", "coordinator"]
        node = command[command.index("--node-id") + 1]
        priority = int(command[command.index("--priority") + 1])
        seen[node] = priority
        health = services[name]["healthcheck"]["test"]
        assert health[health.index("--role") + 1] == "coordinator"
        assert health[health.index("--node-id") + 1] == node
    assert len(seen) == 2 and len(set(seen.values())) == 2
    assert seen == dict(sorted(seen.items(), key=lambda kv: -kv[1])), "coordinator leads"


def test_everyone_waits_for_a_healthy_redis(services):
    for name in ("coordinator", "standby", "worker", "flower"):
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_redis_url_reaches_the_redis_service_with_the_password(services):
    for password in ("0123abcd", "f00dcafe"):
        env = compose_config(REDIS_PASSWORD=password)["services"]
        urls = {env[name]["environment"]["TSP_CELERY_REDIS_URL"] for name in PYTHON_SERVICES}
        assert urls == {f"redis://:{password}@redis:6379/0"}
        settings = Settings.from_env({"TSP_CELERY_REDIS_URL": urls.pop()})
        assert settings.redis_url.endswith("@redis:6379/0")


def test_redis_runs_our_config_with_aof_on_a_volume(config):
    redis = config["services"]["redis"]
    image, _, tag = redis["image"].partition(":")
    assert image == "redis" and tag[:1].isdigit() and tag.count(".") == 2, "pin a patch release"
    mounts = dict(mount_target_source(v) for v in redis["volumes"])
    assert os.path.samefile(mounts["/usr/local/etc/redis/redis.conf"],
                            ROOT / "ops" / "redis" / "redis.conf")
    assert mounts["/data"] in config["volumes"], "Redis data on a named volume"
    assert redis["command"][:4] == ["redis-server", "/usr/local/etc/redis/redis.conf",
                                    "--dir", "/data"], "exec form: the entrypoint drops root"
    assert "redis-cli ping" in redis["healthcheck"]["test"][1]


def test_redis_reads_its_password_from_a_secret_file_never_argv(config):
    redis = config["services"]["redis"]
    assert redis["command"][-2:] == ["--include", "/run/secrets/redis-auth"]
    assert [s["source"] for s in redis["secrets"]] == ["redis-auth"]
    assert config["secrets"]["redis-auth"]["file"] == str(ROOT / ".secrets" / "redis-auth.conf")
    flat = json.dumps(redis)
    assert "0123abcd" not in flat and "requirepass" not in " ".join(redis["command"])
    assert "environment" not in redis, "Redis needs no password variable"
    assert "/run/secrets/redis-auth" in redis["healthcheck"]["test"][1]


def test_secrets_stay_out_of_git():
    ignored = subprocess.run(["git", "check-ignore", ".env", ".secrets/redis-auth.conf",
                              "ops/k8s/secrets.env", "ops/k8s/redis-auth.conf"], cwd=ROOT,
                             capture_output=True, text=True, timeout=30)
    assert len(ignored.stdout.split()) == 4, ignored.stdout


def published(entry: str | dict) -> tuple[str, int, int]:
    """(host ip, host port, container port) of a ports entry, short or long syntax."""
    if isinstance(entry, dict):
        return entry.get("host_ip", ""), int(entry["published"]), int(entry["target"])
    host_ip, port, target = entry.split("/")[0].rsplit(":", 2)
    return host_ip, int(port), int(target)


def test_flower_published_on_loopback_with_a_login(services):
    flower = services["flower"]
    assert published(flower["ports"][0]) == ("127.0.0.1", 5555, 5555)
    assert flower["environment"]["FLOWER_BASIC_AUTH"] == "ops:pw"
    assert flower["command"][:3] == ["tsp-celery", "ops", "flower"], "the guarded launcher"
    moved = compose_config(FLOWER_PORT="8555", TSP_CELERY_FLOWER_HOST="0.0.0.0")
    assert published(moved["services"]["flower"]["ports"][0]) == ("0.0.0.0", 8555, 5555)
    assert "/healthcheck" in " ".join(flower["healthcheck"]["test"])
