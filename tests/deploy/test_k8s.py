"""ops/k8s: schema-valid offline (kubernetes-validate), wired together, probes on `health`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from deploy_helpers import ROOT, check_entry_point

pytestmark = pytest.mark.timeout(60)
K8S = ROOT / "ops" / "k8s"
# The oldest Kubernetes we claim (autoscaling/v2 HPA, StatefulSet ordinals) and the newest bundled.
K8S_VERSIONS = ("1.27.0", kubernetes_validate.utils.latest_version())
WORKLOADS = ("Deployment", "StatefulSet")


def load(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


@pytest.fixture(scope="module")
def kustomization() -> dict:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


@pytest.fixture(scope="module")
def docs(kustomization) -> list[dict]:
    return [doc for name in kustomization["resources"] for doc in load(K8S / name)]


def find(docs: list[dict], kind: str, name: str) -> dict:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}"
    return matches[0]


def containers(doc: dict) -> list[dict]:
    return doc["spec"]["template"]["spec"]["containers"]


def test_kustomization_lists_every_manifest(kustomization):
    listed = set(kustomization["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present
    assert kustomization["kind"] == "Kustomization"
    assert kustomization["namespace"]


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_manifest_is_schema_valid(docs, version):
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_required_fields_and_unique_names(docs):
    seen = set()
    for doc in docs:
        assert doc["apiVersion"] and doc["kind"] and doc["metadata"]["name"]
        key = (doc["kind"], doc["metadata"]["name"])
        assert key not in seen, key
        seen.add(key)
    kinds = {kind for kind, _ in seen}
    assert {"StatefulSet", "Deployment", "Service", "ConfigMap", "NetworkPolicy",
            "HorizontalPodAutoscaler"} <= kinds


def test_selectors_match_pod_labels_and_services_find_pods(docs):
    workloads = [d for d in docs if d["kind"] in WORKLOADS]
    for doc in workloads:
        selector = doc["spec"]["selector"]["matchLabels"]
        labels = doc["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), doc["metadata"]["name"]
    for service in (d for d in docs if d["kind"] == "Service"):
        selector = service["spec"]["selector"]
        assert any(selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()
                   for w in workloads), service["metadata"]["name"]
        ports = {p["name"] for c in (c for w in workloads for c in containers(w))
                 for p in c.get("ports", [])}
        for port in service["spec"].get("ports", []):
            assert port["targetPort"] in ports
    for sts in (d for d in docs if d["kind"] == "StatefulSet"):
        find(docs, "Service", sts["spec"]["serviceName"])


@pytest.fixture(scope="module")
def generated_secret(kustomization, tmp_path_factory) -> tuple[str, set[str]]:
    """(name, keys) of the Secret the kustomization generates from what `ops init` writes."""
    folder = tmp_path_factory.mktemp("k8s-secrets")
    init = subprocess.run([sys.executable, "-m", "tsp_celery", "ops", "init", "--for", "k8s",
                           str(folder)], capture_output=True, text=True, timeout=60)
    assert init.returncode == 0, init.stderr
    (generator,) = kustomization["secretGenerator"]
    keys = set()
    for name in generator.get("envs", []):
        keys |= {line.split("=", 1)[0] for line in (folder / name).read_text().splitlines()}
    keys |= set(generator.get("files", []))
    for name in [*generator.get("envs", []), *generator.get("files", [])]:
        assert (folder / name).stat().st_mode & 0o077 == 0, f"{name} is readable by others"
    assert generator["options"]["disableNameSuffixHash"] is True
    return generator["name"], keys


def test_referenced_configmaps_and_secrets_exist(docs, generated_secret):
    secret_name, secret_keys = generated_secret
    for doc in (d for d in docs if d["kind"] in WORKLOADS):
        pod = doc["spec"]["template"]["spec"]
        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                find(docs, "ConfigMap", volume["configMap"]["name"])
            if "secret" in volume:
                assert volume["secret"]["secretName"] == secret_name
                assert {i["key"] for i in volume["secret"]["items"]} <= secret_keys
        for c in pod["containers"]:
            for source in c.get("envFrom", []):
                find(docs, "ConfigMap", source["configMapRef"]["name"])
            for var in c.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == secret_name and ref["key"] in secret_keys
                    assert not ref.get("optional"), "every secret is generated at install"


def test_no_secret_with_a_known_value_in_the_repository(docs):
    assert [d for d in docs if d["kind"] == "Secret"] == []
    for path in K8S.glob("*.yaml"):
        text = path.read_text()
        assert "stringData" not in text and "change-me" not in text, path.name
        assert "--requirepass" not in text, path.name


def test_only_our_pods_reach_redis(docs):
    policy = find(docs, "NetworkPolicy", "redis-clients")
    redis_labels = find(docs, "StatefulSet", "redis")["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= redis_labels.items()
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 6379}]
    (peer,) = rule["from"]
    assert set(peer) == {"podSelector"}, "no namespaceSelector or ipBlock: this namespace only"
    (expression,) = peer["podSelector"]["matchExpressions"]
    allowed = set(expression["values"])
    assert expression["key"] == "app.kubernetes.io/name" and expression["operator"] == "In"
    clients = {d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
               for d in docs if d["kind"] in WORKLOADS} - {"redis"}
    assert allowed == clients == {"coordinator", "worker", "gateway", "flower", "redis-exporter"}


def test_redis_is_a_statefulset_with_aof_on_a_pvc(docs):
    sts = find(docs, "StatefulSet", "redis")
    assert sts["spec"]["replicas"] == 1
    claim = sts["spec"]["volumeClaimTemplates"][0]
    mounts = {m["name"]: m["mountPath"] for m in containers(sts)[0]["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == "/data"
    args = containers(sts)[0]["args"]
    assert args[:2] == ["redis-server", "/etc/redis/redis.conf"]
    assert args[args.index("--dir") + 1] == "/data"
    assert args[args.index("--include") + 1] == "/etc/redis-auth/redis-auth.conf"
    assert "--maxmemory" in args and not any("PASSWORD" in a for a in args)
    assert not containers(sts)[0]["image"].endswith(":latest")
    find(docs, "Service", "redis")


def test_redis_config_map_is_ops_redis_conf(docs):
    conf = find(docs, "ConfigMap", "tsp-celery-redis-conf")["data"]["redis.conf"]
    assert conf == (ROOT / "ops" / "redis" / "redis.conf").read_text()
    directives = dict(line.split(None, 1) for line in conf.splitlines()
                      if line and not line.startswith("#"))
    assert directives["appendonly"] == "yes"
    assert directives["appendfsync"] == "everysec"
    assert directives["maxmemory-policy"] == "noeviction"


def python_containers(docs: list[dict]):
    for doc in (d for d in docs if d["kind"] in WORKLOADS):
        for c in containers(doc):
            if c["image"].split(":")[0] == "tsp-celery":
                yield doc, c


def pod_env(container: dict, pod_name: str) -> dict[str, str]:
    """The container's plain env values, plus POD_NAME as the downward API fills it in."""
    env = {"POD_NAME": pod_name}
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
    return env


def test_python_pods_share_one_image_and_the_redis_url(docs, kustomization):
    images = {c["image"] for _, c in python_containers(docs)}
    assert images == {"tsp-celery"}
    assert {i["name"] for i in kustomization["images"]} == {"tsp-celery"}
    assert all(i.get("newTag") not in (None, "latest") for i in kustomization["images"])
    config = find(docs, "ConfigMap", "tsp-celery-config")["data"]
    for doc, c in python_containers(docs):
        env = {v["name"]: v for v in c["env"]}
        assert env["TSP_CELERY_REDIS_URL"]["value"] == \
            "$(REDIS_SCHEME)://:$(REDIS_PASSWORD)@$(REDIS_ADDRESS)", doc["metadata"]["name"]
        assert list(env).index("REDIS_PASSWORD") < list(env).index("TSP_CELERY_REDIS_URL")
        assert {"REDIS_SCHEME", "REDIS_ADDRESS"} <= config.keys()
        assert doc["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_commands_and_probes_run_the_package_entry_points(docs, resolve):
    for doc, c in python_containers(docs):
        name = doc["metadata"]["name"]
        argv = [*c.get("command", []), *c.get("args", [])]
        env = pod_env(c, f"{name}-0")
        check_entry_point(resolve(argv, env=env))
        for probe in ("livenessProbe", "readinessProbe"):
            assert probe in c, f"{name} has no {probe}"
            if name in ("flower", "gateway") and probe == "livenessProbe":
                assert c[probe]["httpGet"]["path"] in ("/healthcheck", "/health")
                continue
            health = resolve(c[probe]["exec"]["command"], env=env)
            check_entry_point(health)
            assert health[:2] == ["tsp-celery", "health"], f"{name} {probe}"


def test_coordinators_get_distinct_node_ids_and_priorities(docs, resolve):
    sts = find(docs, "StatefulSet", "coordinator")
    assert sts["spec"]["replicas"] == 2
    c = containers(sts)[0]
    seen = {}
    for ordinal in range(sts["spec"]["replicas"]):
        pod = f"coordinator-{ordinal}"
        argv = resolve([*c["command"], *c["args"]], env=pod_env(c, pod))
        assert argv[:2] == ["tsp-celery", "coordinator"]
        assert argv[argv.index("--node-id") + 1] == pod
        seen[pod] = int(argv[argv.index("--priority") + 1])
        probe = resolve(c["livenessProbe"]["exec"]["command"], env=pod_env(c, pod))
        assert probe[probe.index("--role") + 1] == "coordinator"
        assert probe[probe.index("--node-id") + 1] == pod
    assert seen["coordinator-0"] > seen["coordinator-1"]
    env = {v["name"]: v for v in c["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def test_workers_have_resources_soft_shutdown_and_an_hpa(docs):
    worker = find(docs, "Deployment", "worker")
    c = containers(worker)[0]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= c["resources"][kind].keys()
    env = {v["name"]: v for v in c["env"]}
    assert env["REMAP_SIGTERM"]["value"] == "SIGQUIT"
    assert env["TSP_CELERY_WORKER_CONCURRENCY"]["valueFrom"]["resourceFieldRef"]["resource"] \
        == "limits.cpu"
    assert worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 60
    hpa = find(docs, "HorizontalPodAutoscaler", "worker")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "worker")
    metric = hpa["spec"]["metrics"][0]
    assert metric["resource"]["name"] == "cpu"
    assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_flower_deployment_and_service(docs, resolve):
    flower = find(docs, "Deployment", "flower")
    c = containers(flower)[0]
    assert c["ports"][0]["containerPort"] == 5555
    env = {v["name"]: v for v in c["env"]}
    assert env["FLOWER_BASIC_AUTH"]["valueFrom"]["secretKeyRef"]["key"] == "flower-basic-auth"
    assert env["FLOWER_ADDRESS"]["value"] == "0.0.0.0"
    assert resolve(c["command"])[:3] == ["tsp-celery", "ops", "flower"], "the guarded launcher"
    service = find(docs, "Service", "flower")
    assert service["spec"]["ports"][0]["port"] == 5555
    assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
