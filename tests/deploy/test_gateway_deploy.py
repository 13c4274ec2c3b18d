"""The gateway in every deployment file: compose (loopback by default), Procfile, image, k8s."""

from __future__ import annotations

import pytest
import yaml
from deploy_helpers import ROOT, check_entry_point, compose_config
from honcho.environ import parse_procfile

pytestmark = pytest.mark.timeout(60)


def _published(port: str | dict) -> tuple[str, int, int]:
    """(host ip, published, target) of a port entry, short ("ip:pub:target/tcp") or long."""
    if isinstance(port, dict):
        return port.get("host_ip", ""), int(port["published"]), int(port["target"])
    host_ip, published, target = port.split("/")[0].rsplit(":", 2)
    return host_ip, int(published), int(target)


def _port_option(argv: list[str]) -> str:
    return argv[argv.index("--port") + 1]


def test_compose_publishes_the_gateway_on_loopback_unless_told(resolve):
    gateway = compose_config()["services"]["gateway"]
    argv = resolve(gateway["command"], env=gateway["environment"])
    check_entry_point(argv)
    assert argv[1] == "gateway" and argv[argv.index("--host") + 1] == "0.0.0.0"
    (port,) = gateway["ports"]
    assert _published(port) == ("127.0.0.1", 8080, 8080)
    assert int(_port_option(argv)) == 8080
    assert gateway["environment"]["TSP_CELERY_REDIS_URL"].startswith("redis://")
    assert "/health" in " ".join(gateway["healthcheck"]["test"])
    assert gateway["depends_on"]["redis"]["condition"] == "service_healthy"
    moved = compose_config(GATEWAY_BIND="0.0.0.0", GATEWAY_PORT="9000")["services"]["gateway"]
    assert _published(moved["ports"][0]) == ("0.0.0.0", 9000, 8080)


def test_procfile_gateway_line_takes_its_port_from_the_environment(resolve):
    line = parse_procfile((ROOT / "Procfile").read_text()).processes["gateway"]
    assert line.startswith("exec ")
    argv = resolve(line, env={"GATEWAY_PORT": "8123"})
    check_entry_point(argv)
    assert argv[1] == "gateway" and _port_option(argv) == "8123"
    assert "--host" not in argv, "the Procfile gateway stays on 127.0.0.1"


def test_image_installs_the_gateway_extra():
    """The dependency stage installs setup.cfg's EXTRAS, the gateway's by default (the
    container e2e builds this image and starts the gateway service from it)."""
    text = (ROOT / "ops" / "docker" / "Dockerfile").read_text()
    assert 'ARG EXTRAS="gateway"' in text
    assert "os.environ['EXTRAS'].split(',')" in text
    assert "EXPOSE 5555 8080" in text


def test_k8s_gateway_deployment_behind_a_service(resolve):
    docs = list(yaml.safe_load_all((ROOT / "ops" / "k8s" / "gateway.yaml").read_text()))
    deployment, service = (next(d for d in docs if d["kind"] == kind)
                           for kind in ("Deployment", "Service"))
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    argv = resolve(container["command"])
    check_entry_point(argv)
    (port,) = container["ports"]
    assert int(_port_option(argv)) == port["containerPort"]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"].get("type", "ClusterIP") == "ClusterIP", "reached through an ingress"
    assert service["spec"]["ports"][0]["targetPort"] == port["name"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": port["name"]}
    assert "TLS" in (ROOT / "ops" / "k8s" / "gateway.yaml").read_text().split("apiVersion")[0]
