"""ops/k8s-sentinel: the base plus a replica and three sentinels, schema-valid and wired together.

No kustomize binary is needed: the overlay's patches are applied here as kustomize does (a
ConfigMap merged by name, JSON patches on their targets), then the result is checked.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tsp_celery.cluster.connection import sentinel_nodes
from tsp_celery.settings import Settings

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "ops" / "k8s"
OVERLAY = ROOT / "ops" / "k8s-sentinel"
PYTHON_WORKLOADS = ("coordinator", "worker", "flower", "gateway")
PASSWORD = "pw0123"


def load(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def find(docs: list[dict], kind: str, name: str) -> dict:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}"
    return matches[0]


def _targets(docs: list[dict], target: dict) -> list[dict]:
    out = [d for d in docs if d["kind"] == target["kind"]
           and target.get("name", d["metadata"]["name"]) == d["metadata"]["name"]]
    selector = target.get("labelSelector")
    if selector:
        key, names = re.fullmatch(r"(\S+) in \((.*)\)", selector).groups()
        out = [d for d in out if d["metadata"].get("labels", {}).get(key) in names.split(",")]
    return out


def _json_patch(doc: dict, ops: list[dict]) -> None:
    for op in ops:
        *parents, last = op["path"].strip("/").split("/")
        node = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if op["op"] == "add" and last == "-":
            node.append(copy.deepcopy(op["value"]))
        else:
            assert op["op"] == "replace", op
            index = int(last) if isinstance(node, list) else last
            assert (index < len(node)) if isinstance(node, list) else (index in node), op
            node[index] = copy.deepcopy(op["value"])


@pytest.fixture(scope="module")
def kustomization() -> dict:
    return yaml.safe_load((OVERLAY / "kustomization.yaml").read_text())


@pytest.fixture(scope="module")
def rendered(kustomization) -> list[dict]:
    """The base's documents plus the overlay's, with the overlay's patches applied."""
    base = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    docs = [d for name in base["resources"] for d in load(BASE / name)]
    docs += [d for name in kustomization["resources"] if name != "../k8s"
             for d in load(OVERLAY / name)]
    for patch in kustomization["patches"]:
        body = yaml.safe_load((OVERLAY / patch["path"]).read_text())
        if "target" not in patch:  # a strategic merge of a ConfigMap's data
            find(docs, body["kind"], body["metadata"]["name"])["data"].update(body["data"])
            continue
        targets = _targets(docs, patch["target"])
        assert targets, patch
        for doc in targets:
            _json_patch(doc, body)
    return docs


def test_overlay_lists_its_resources_on_the_base(kustomization):
    assert kustomization["resources"][0] == "../k8s"
    patches = {p["path"] for p in kustomization["patches"]}
    present = {p.name for p in OVERLAY.glob("*.yaml")} - {"kustomization.yaml"} - patches
    assert set(kustomization["resources"][1:]) == present
    assert kustomization["namespace"] == yaml.safe_load(
        (BASE / "kustomization.yaml").read_text())["namespace"]


def test_every_document_is_schema_valid(rendered):
    for doc in rendered:
        kubernetes_validate.validate(doc, kubernetes_validate.utils.latest_version(), strict=True)


def _env(rendered: list[dict], workload: dict) -> dict[str, str]:
    """The container's environment as the kubelet builds it ($(VAR) expanded)."""
    container = workload["spec"]["template"]["spec"]["containers"][0]
    env: dict[str, str] = {}
    for ref in container.get("envFrom", []):
        env.update(find(rendered, "ConfigMap", ref["configMapRef"]["name"])["data"])
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], item["value"])
        elif item["valueFrom"].get("secretKeyRef", {}).get("key") == "password":
            env[item["name"]] = PASSWORD
    return env


def test_every_tsp_celery_pod_reaches_redis_through_the_three_sentinels(rendered):
    sentinels = find(rendered, "StatefulSet", "sentinel")
    pods = {f"sentinel-{i}.{sentinels['spec']['serviceName']}"
            for i in range(sentinels["spec"]["replicas"])}
    assert len(pods) == 3
    monitor = find(rendered, "ConfigMap", "tsp-celery-redis-ha")["data"]["sentinel.conf"]
    master = re.search(r"^sentinel monitor (\S+) ", monitor, re.M).group(1)
    for name in PYTHON_WORKLOADS:
        kind = "StatefulSet" if name == "coordinator" else "Deployment"
        env = _env(rendered, find(rendered, kind, name))
        settings = Settings.from_env(env)
        nodes, primary = sentinel_nodes(settings.redis_url)
        assert {host for host, _ in nodes} == pods and {p for _, p in nodes} == {26379}, name
        assert primary["password"] == PASSWORD and settings.sentinel_password == PASSWORD
        assert settings.sentinel_master == master and settings.wait_replicas == 1, name


def test_primary_replica_and_sentinels_agree_on_the_first_primary(rendered):
    primary = find(rendered, "StatefulSet", "redis")
    args = primary["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:2] == ["sh", "/etc/redis/redis-node.sh"]
    first = args[args.index("--replica-announce-ip") + 1]
    assert first == f"redis-0.{primary['spec']['serviceName']}"
    sources = {s["configMap"]["name"] for v in primary["spec"]["template"]["spec"]["volumes"]
               if v["name"] == "config" for s in v["projected"]["sources"]}
    assert sources == {"tsp-celery-redis-conf", "tsp-celery-redis-ha"}, "conf and scripts"
    replica = find(rendered, "StatefulSet", "redis-replica")
    replica_args = replica["spec"]["template"]["spec"]["containers"][0]["args"]
    assert replica_args[replica_args.index("--replicaof") + 1:][:2] == [first, "6379"]
    sentinel_args = find(rendered, "StatefulSet", "sentinel")["spec"]["template"]["spec"][
        "containers"][0]["args"]
    assert sentinel_args[:2] == ["sh", "/etc/redis/sentinel-node.sh"]
    assert sentinel_args[-1] == first
    for doc in (primary, replica):
        assert PASSWORD not in str(doc) and "requirepass" not in str(doc)


def test_config_map_holds_ops_redis_files(rendered):
    data = find(rendered, "ConfigMap", "tsp-celery-redis-ha")["data"]
    for name in ("sentinel.conf", "redis-node.sh", "sentinel-node.sh"):
        assert data[name] == (ROOT / "ops" / "redis" / name).read_text(), name


def _admitted(rendered: list[dict], target: str, source: str, port: int) -> bool:
    for policy in (d for d in rendered if d["kind"] == "NetworkPolicy"):
        selector = policy["spec"]["podSelector"]
        names = selector.get("matchExpressions", [{}])[0].get("values") or [
            selector.get("matchLabels", {}).get("app.kubernetes.io/name")]
        if target not in names:
            continue
        for rule in policy["spec"]["ingress"]:
            allowed = rule["from"][0]["podSelector"]["matchExpressions"][0]["values"]
            if source in allowed and port in [p["port"] for p in rule["ports"]]:
                return True
    return False


def test_network_policies_admit_the_failover_paths(rendered):
    for source in (*PYTHON_WORKLOADS, "sentinel", "redis", "redis-replica"):
        for target in ("redis", "redis-replica"):
            if source != target:
                assert _admitted(rendered, target, source, 6379), (source, target)
    for source in (*PYTHON_WORKLOADS, "sentinel"):
        assert _admitted(rendered, "sentinel", source, 26379), source
    assert not _admitted(rendered, "sentinel", "redis-exporter", 26379)
