"""Monitoring as deployed: the compose profile `monitoring` and the k8s annotations point
Prometheus at the ports the processes really serve, with the shipped rules and dashboard."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import yaml
from obs_helpers import GRAFANA_DIR, PROMETHEUS_DIR, ROOT, promtool

from tsp_celery.cli import cli

pytestmark = pytest.mark.timeout(90)
K8S = ROOT / "ops" / "k8s"


@pytest.fixture(scope="module")
def services() -> dict:
    exe = shutil.which("docker-compose")
    assert exe, "docker-compose is missing: apt-get install -y docker-compose (see .ci/run)"
    secrets = {"REDIS_PASSWORD": "ab12", "FLOWER_BASIC_AUTH": "a:b",  # what `ops init` writes
               "GRAFANA_ADMIN_PASSWORD": "c3"}
    proc = subprocess.run([exe, "--profile", "monitoring", "config"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, **secrets})
    assert proc.returncode == 0, proc.stderr
    return yaml.safe_load(proc.stdout)["services"]


def _mounts(service: dict) -> dict[str, str]:
    """Container path -> host path of a service's bind mounts."""
    out = {}
    for v in service.get("volumes", []):
        if isinstance(v, dict):
            out[v["target"]] = v["source"]
        else:
            source, target = v.split(":")[:2]
            out[target] = source
    return out


def _port(service: dict) -> tuple[str, int]:
    """(host ip, container port) of a service's one published port, either compose syntax."""
    (port,) = service["ports"]
    if isinstance(port, dict):
        return port.get("host_ip", ""), int(port["target"])
    host_ip, _published, target = port.split("/")[0].rsplit(":", 2)
    return host_ip, int(target)


def _scrape_targets(config: dict) -> dict[str, list[str]]:
    return {job["job_name"]: [t for sc in job.get("static_configs", []) for t in sc["targets"]]
            for job in config["scrape_configs"]}


def test_monitoring_services_only_in_their_profile_and_on_localhost(services):
    for name in ("prometheus", "grafana", "redis-exporter"):
        assert services[name]["profiles"] == ["monitoring"], name
    for name in ("prometheus", "grafana"):
        assert _port(services[name])[0] == "127.0.0.1", name


def test_prometheus_gets_our_config_and_rules_and_grafana_our_dashboards(services):
    prometheus = _mounts(services["prometheus"])
    assert prometheus["/etc/prometheus/prometheus.yml"] == str(PROMETHEUS_DIR / "prometheus.yml")
    assert prometheus["/etc/prometheus/alerts.yml"] == str(PROMETHEUS_DIR / "alerts.yml")
    grafana = _mounts(services["grafana"])
    assert grafana["/etc/grafana/provisioning"] == str(GRAFANA_DIR / "provisioning")
    dashboards = grafana["/var/lib/grafana/dashboards"]
    assert dashboards == str(GRAFANA_DIR / "dashboards")
    provider = yaml.safe_load((GRAFANA_DIR / "provisioning" / "dashboards" /
                               "tsp-celery.yml").read_text())["providers"][0]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    source = yaml.safe_load((GRAFANA_DIR / "provisioning" / "datasources" /
                             "prometheus.yml").read_text())["datasources"][0]
    assert source["url"] == "http://prometheus:9090"
    assert _port(services["prometheus"])[1] == 9090


def test_scrape_targets_are_the_ports_the_services_serve(services, monkeypatch):
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    targets = _scrape_targets(config)
    for name in ("coordinator", "standby"):
        port = services[name]["environment"]["TSP_CELERY_METRICS_PORT"]
        assert f"{name}:{port}" in targets["tsp-celery-coordinator"]
        # the coordinator command really takes its metrics port from that variable
        monkeypatch.setenv("TSP_CELERY_METRICS_PORT", port)
        args = services[name]["command"][2:]
        ctx = cli.commands["coordinator"].make_context("coordinator", list(args))
        assert ctx.params["metrics_port"] == int(port)
    worker_job = next(j for j in config["scrape_configs"] if j["job_name"] == "tsp-celery-worker")
    (dns,) = worker_job["dns_sd_configs"]
    assert dns["names"] == ["worker"]
    assert str(dns["port"]) == services["worker"]["environment"]["TSP_CELERY_WORKER_METRICS_PORT"]
    assert "flower:5555" in targets["flower"] and "--port=5555" in services["flower"]["command"]
    assert targets["redis"] == ["redis-exporter:9121"]
    assert targets["tsp-celery-gateway"] == ["gateway:8080"]
    assert services["gateway"]["command"][-2:] == ["--port", "8080"]
    assert services["redis-exporter"]["environment"]["REDIS_ADDR"] == "redis://redis:6379"


def test_compose_prometheus_config_passes_promtool(tmp_path):
    for name in ("prometheus.yml", "alerts.yml"):
        shutil.copy(PROMETHEUS_DIR / name, tmp_path / name)
    proc = promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_worker_launcher_gives_metrics_a_directory_of_its_own(tmp_path):
    stand_in = tmp_path / "celery"
    stand_in.write_text('#!/bin/sh\nprintf "%s\\n" "$PROMETHEUS_MULTIPROC_DIR"\n')
    stand_in.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}",
           "TSP_CELERY_WORKER_METRICS_PORT": "9809", "TMPDIR": str(tmp_path)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    launcher = str(ROOT / "ops" / "bin" / "tsp-celery-worker")
    made = subprocess.run(["sh", launcher], env=env, capture_output=True, text=True,
                          timeout=30).stdout.strip()
    assert made.startswith(str(tmp_path)) and os.path.isdir(made) and not os.listdir(made)
    env["PROMETHEUS_MULTIPROC_DIR"] = "/given"
    given = subprocess.run(["sh", launcher], env=env, capture_output=True, text=True,
                           timeout=30).stdout.strip()
    assert given == "/given"


def _pod_template(path, kind: str) -> dict:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d and d["kind"] == kind]
    return docs[0]["spec"]["template"]


@pytest.mark.parametrize(("manifest", "kind", "variable"), [
    ("coordinator.yaml", "StatefulSet", "TSP_CELERY_METRICS_PORT"),
    ("worker.yaml", "Deployment", "TSP_CELERY_WORKER_METRICS_PORT"),
    ("monitoring.yaml", "Deployment", None)])
def test_k8s_pods_announce_the_port_they_serve(manifest, kind, variable):
    template = _pod_template(K8S / manifest, kind)
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    (container,) = template["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert str(ports["metrics"]) == annotations["prometheus.io/port"]
    if variable:
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env[variable] == annotations["prometheus.io/port"]


def test_k8s_scrape_config_keeps_our_pods_under_the_job_names_the_rules_use():
    """Debian's promtool is built without Kubernetes discovery: checked here instead."""
    config = yaml.safe_load((PROMETHEUS_DIR / "kubernetes.yml").read_text())
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert {"tsp-celery-coordinator", "tsp-celery-worker", "redis"} <= set(jobs)
    keeps = {name: job["relabel_configs"][0]["regex"] for name, job in jobs.items()}
    assert keeps == {"tsp-celery-coordinator": "coordinator", "tsp-celery-worker": "worker",
                     "redis": "redis-exporter"}
    port = next(r for r in jobs["tsp-celery-worker"]["relabel_configs"]
                if r.get("target_label") == "__address__")
    joined = "10.0.0.7:8080;9809"  # pod address ; prometheus.io/port
    address = re.fullmatch(port["regex"], joined).expand(port["replacement"].replace("$", "\\"))
    assert address == "10.0.0.7:9809"
