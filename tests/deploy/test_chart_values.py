"""The values issue #12 added, each rendered and validated against the
Kubernetes schemas: the bundled MongoDB replica set (on by default, 1 or 3
members), an external replica set with a CA bundle, the gateway's metrics
port, Ingress and HPA, the worker's KEDA ScaledObject and drain, declarative
topics, the helm test pod, the broker's NetworkPolicy for applications."""

from __future__ import annotations

import json
from typing import Any, Final

import helm_python
import kubernetes_validate
import pytest

from tests.deploy.chart import (
    CHART_DIR,
    Manifest,
    by_kind,
    component_workload,
    containers,
    named,
    pod_spec,
    render,
    resolve_env,
    secret_data,
    service_containers,
)

KUBERNETES_VERSION: Final = "1.35.0"
NOT_KUBERNETES: Final = frozenset({"ServiceMonitor", "PrometheusRule", "ScaledObject"})
EXTERNAL_URL: Final = (
    "mongodb://bus:pw@db-0.example.com:27017,db-1.example.com:27017/?replicaSet=prod"
)


def validated(values: dict[str, Any] | None = None) -> list[Manifest]:
    """Render ``values`` and validate every Kubernetes object strictly."""
    manifests = render(values)
    for manifest in manifests:
        if manifest["kind"] in NOT_KUBERNETES:
            continue
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(part) for part in exc.path)
            pytest.fail(f"{manifest['kind']}/{manifest['metadata']['name']}: {path}: {exc.message}")
    return manifests


def env_of(spec: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in spec.get("env", [])}


@pytest.fixture(scope="module")
def defaults() -> list[Manifest]:
    return validated()


# -- the bundled MongoDB -------------------------------------------------------


def test_default_render_contains_a_mongodb_replica_set(defaults: list[Manifest]) -> None:
    mongodb = named(defaults, "StatefulSet", "promethean-mongodb")
    assert mongodb["spec"]["replicas"] == 1
    assert mongodb["spec"]["serviceName"] == "promethean-mongodb-headless"
    headless = named(defaults, "Service", "promethean-mongodb-headless")
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    [claim] = mongodb["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "8Gi"
    container = pod_spec(mongodb)["containers"][0]
    args = container["args"]
    assert args[:3] == ["mongod", "--replSet", "rs0"]
    assert args[args.index("--keyFile") + 1] == "/keyfile/keyfile"
    assert "--auth" in args
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert "mongosh" in container[probe]["exec"]["command"], probe
    assert not by_kind(defaults, "PodDisruptionBudget") or all(
        b["metadata"]["name"] != "promethean-mongodb"
        for b in by_kind(defaults, "PodDisruptionBudget")
    )


def test_mongodb_runs_restricted(defaults: list[Manifest]) -> None:
    mongodb = named(defaults, "StatefulSet", "promethean-mongodb")
    pod = pod_spec(mongodb)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 999
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in [*pod["initContainers"], *pod["containers"]]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        assert context["readOnlyRootFilesystem"] is True
    # The keyFile reaches mongod through a private copy with mode 0400.
    [init] = pod["initContainers"]
    assert "chmod 0400 /keyfile/keyfile" in init["command"][-1]


def test_mongodb_secret_is_generated_and_feeds_the_url(defaults: list[Manifest]) -> None:
    secrets = secret_data(defaults)
    mongodb = secrets["promethean-mongodb"]
    assert set(mongodb) == {"root-user", "root-password", "app-user", "app-password", "keyfile"}
    assert len(mongodb["keyfile"]) >= 700
    assert len(mongodb["root-password"]) >= 32
    assert mongodb["root-password"] != mongodb["app-password"]
    url = secrets["promethean"]["MONGO_URL"]
    assert f"promethean:{mongodb['app-password']}@" in url
    assert "replicaSet=rs0" in url
    statefulset = named(defaults, "StatefulSet", "promethean-mongodb")
    env = env_of(pod_spec(statefulset)["containers"][0])
    assert env["MONGO_INITDB_ROOT_PASSWORD"]["secretKeyRef"]["key"] == "root-password"


def test_given_mongodb_passwords_are_kept() -> None:
    manifests = render({"mongodb": {"auth": {"appPassword": "app pw/+", "rootPassword": "r00t"}}})
    secrets = secret_data(manifests)
    assert secrets["promethean-mongodb"]["root-password"] == "r00t"
    # Special characters are escaped in the URL.
    assert "promethean:app%20pw%2F%2B@" in secrets["promethean"]["MONGO_URL"]


def test_init_job_initiates_the_set_with_every_member() -> None:
    manifests = validated({"mongodb": {"replicas": 3}})
    [job] = [j for j in by_kind(manifests, "Job") if "mongodb-init" in j["metadata"]["name"]]
    assert job["metadata"]["name"] == "promethean-mongodb-init-1"
    assert "helm.sh/hook" not in job["metadata"].get("annotations", {})
    container = pod_spec(job)["containers"][0]
    env = env_of(container)
    members = env["MEMBERS"].split(",")
    assert members == [
        f"promethean-mongodb-{i}.promethean-mongodb-headless.bus.svc.cluster.local:27017"
        for i in range(3)
    ]
    assert env["REPLICA_SET"] == "rs0"
    assert container["command"][-1] == "/opt/promethean-scripts/mongodb_init.js"
    scripts = named(manifests, "ConfigMap", "promethean-scripts")
    assert "replSetInitiate" in scripts["data"]["mongodb_init.js"]
    url = secret_data(manifests)["promethean"]["MONGO_URL"]
    assert ",".join(members) in url
    [budget] = [
        b for b in by_kind(manifests, "PodDisruptionBudget") if "mongodb" in b["metadata"]["name"]
    ]
    assert budget["spec"]["maxUnavailable"] == 1


def test_every_store_reader_waits_for_the_store(defaults: list[Manifest]) -> None:
    for component in ("broker", "outbox-drainer", "compactor", "worker"):
        spec = pod_spec(component_workload(defaults, component))
        [init] = spec["initContainers"]
        assert init["name"] == "wait-for-store"
        assert init["command"][-1].endswith("wait_for_store.py")
        assert set(env_of(init)) == {"MONGO_URL", "MONGO_DB"}
    gateway = pod_spec(component_workload(defaults, "gateway"))
    assert "initContainers" not in gateway


def test_broker_startup_probe_outlasts_a_slow_replica_set(defaults: list[Manifest]) -> None:
    container = pod_spec(component_workload(defaults, "broker"))["containers"][0]
    probe = container["startupProbe"]
    assert probe["periodSeconds"] * probe["failureThreshold"] >= 300


def test_mongodb_off_uses_the_given_url_and_a_ca_bundle() -> None:
    manifests = validated(
        {
            "mongodb": {"enabled": False},
            "store": {"mongoUrl": EXTERNAL_URL, "tls": {"caSecret": "prod-ca"}},
        }
    )
    assert not by_kind(manifests, "StatefulSet") or all(
        s["metadata"]["name"] != "promethean-mongodb" for s in by_kind(manifests, "StatefulSet")
    )
    assert "promethean-mongodb" not in secret_data(manifests)
    url = secret_data(manifests)["promethean"]["MONGO_URL"]
    assert url == f"{EXTERNAL_URL}&tls=true&tlsCAFile=/etc/promethean/mongodb-ca/ca.crt"
    for container in service_containers(manifests):
        spec = pod_spec(container.workload)
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["mongodb-ca"]["secret"]["secretName"] == "prod-ca"
        mounts = {m["name"]: m["mountPath"] for m in container.spec["volumeMounts"]}
        assert mounts["mongodb-ca"] == "/etc/promethean/mongodb-ca"


def test_mongodb_off_with_an_existing_secret() -> None:
    manifests = validated(
        {"mongodb": {"enabled": False}, "store": {"existingSecret": "db", "existingSecretKey": "u"}}
    )
    assert "MONGO_URL" not in secret_data(manifests)["promethean"]
    broker = pod_spec(component_workload(manifests, "broker"))["containers"][0]
    assert env_of(broker)["MONGO_URL"] == {"secretKeyRef": {"name": "db", "key": "u"}}


# -- the gateway: metrics port, Ingress, HPA ------------------------------------


def test_gateway_metrics_are_on_their_own_port(defaults: list[Manifest]) -> None:
    gateway = component_workload(defaults, "gateway")
    container = pod_spec(gateway)["containers"][0]
    env = env_of(container)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert int(env["PROMETHEAN_METRICS_PORT"]) == ports["metrics"] == 9102
    assert int(env["WS_PORT"]) == ports["http"] != ports["metrics"]
    annotations = gateway["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == "9102"
    metrics = named(defaults, "Service", "promethean-gateway-metrics")
    assert [p["targetPort"] for p in metrics["spec"]["ports"]] == ["metrics"]
    public = named(defaults, "Service", "promethean-gateway")
    assert [p["targetPort"] for p in public["spec"]["ports"]] == ["http"]


def test_ingress_routes_clients_to_the_public_port_with_tls() -> None:
    manifests = validated(
        {
            "gateway": {
                "ingress": {
                    "enabled": True,
                    "className": "nginx",
                    "host": "bus.example.org",
                    "tlsSecret": "bus-tls",
                }
            }
        }
    )
    ingress = named(manifests, "Ingress", "promethean-gateway")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": ["bus.example.org"], "secretName": "bus-tls"}]
    [rule] = ingress["spec"]["rules"]
    [path] = rule["http"]["paths"]
    assert path["backend"]["service"] == {"name": "promethean-gateway", "port": {"name": "http"}}
    timeout = ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-read-timeout"]
    assert int(timeout) >= 3600


def test_no_ingress_hpa_or_keda_by_default(defaults: list[Manifest]) -> None:
    kinds = {m["kind"] for m in defaults}
    assert not kinds & {"Ingress", "HorizontalPodAutoscaler", "ScaledObject"}


def test_hpa_scales_the_gateway_on_cpu() -> None:
    manifests = validated({"gateway": {"autoscaling": {"enabled": True, "maxReplicas": 7}}})
    hpa = named(manifests, "HorizontalPodAutoscaler", "promethean-gateway")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "promethean-gateway",
    }
    assert hpa["spec"]["maxReplicas"] == 7
    [metric] = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    # The HPA owns the replica count: the Deployment leaves it unset.
    assert "replicas" not in named(manifests, "Deployment", "promethean-gateway")["spec"]


# -- the worker: KEDA and drain ---------------------------------------------------


def test_keda_scales_the_worker_statefulset_on_its_lag() -> None:
    manifests = validated({"worker": {"keda": {"enabled": True, "lagPerReplica": 500}}})
    scaled = named(manifests, "ScaledObject", "promethean-worker")
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled["spec"]["scaleTargetRef"]["kind"] == "StatefulSet"
    assert scaled["spec"]["scaleTargetRef"]["name"] == "promethean-worker"
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["type"] == "prometheus"
    query = trigger["metadata"]["query"]
    assert "promethean_consumer_lag" in query
    for label in ('namespace="bus"', 'release="promethean"', 'group="promethean-worker"'):
        assert label in query
    assert trigger["metadata"]["threshold"] == "500"


@pytest.mark.parametrize("ack_timeout_ms", [30000, 120000])
def test_worker_grace_lets_a_handler_run_to_its_ack_timeout(ack_timeout_ms: int) -> None:
    manifests = validated({"broker": {"ackTimeoutMs": ack_timeout_ms}})
    worker = component_workload(manifests, "worker")
    env = env_of(pod_spec(worker)["containers"][0])
    drain_ms = int(env["PROMETHEAN_DRAIN_MS"])
    assert drain_ms >= ack_timeout_ms
    assert pod_spec(worker)["terminationGracePeriodSeconds"] * 1000 > drain_ms


# -- topics, helm test, network policy, labels --------------------------------------


def test_topics_job_declares_the_topics_after_install_and_upgrade() -> None:
    topics = [
        {"name": "orders", "partitions": 24},
        {"name": "users", "cleanup": "compact", "max_attempts": 3},
    ]
    manifests = validated({"topics": topics})
    job = named(manifests, "Job", "promethean-topics")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "post-install,post-upgrade"
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    container = pod_spec(job)["containers"][0]
    env = env_of(container)
    assert env["BROKER_ADMIN_URL"] == "http://promethean-broker:7070"
    assert env["PROMETHEAN_BROKER_TOKEN"]["secretKeyRef"]["name"] == "promethean"
    scripts = named(manifests, "ConfigMap", "promethean-scripts")
    assert json.loads(scripts["data"]["topics.json"]) == topics


def test_no_topics_job_without_topics(defaults: list[Manifest]) -> None:
    assert all(j["metadata"]["name"] != "promethean-topics" for j in by_kind(defaults, "Job"))


def test_helm_test_pod_publishes_through_the_gateway(defaults: list[Manifest]) -> None:
    pod = named(defaults, "Pod", "promethean-test")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    container = pod["spec"]["containers"][0]
    env = env_of(container)
    assert env["GATEWAY_URL"] == "ws://promethean-gateway:8090/ws"
    assert env["JWT_SECRET"]["secretKeyRef"]["key"] == "JWT_SECRET"
    assert container["command"][-1].endswith("helm_test.py")


def test_applications_may_reach_the_broker() -> None:
    peer = {"namespaceSelector": {"matchLabels": {"promethean.io/bus-client": "true"}}}
    manifests = validated({"networkPolicy": {"clientsFrom": [peer]}})
    policy = named(manifests, "NetworkPolicy", "promethean-broker")
    assert peer in policy["spec"]["ingress"][0]["from"]
    mongodb = named(manifests, "NetworkPolicy", "promethean-mongodb")
    [rule] = mongodb["spec"]["ingress"]
    assert rule["ports"] == [{"port": "mongodb", "protocol": "TCP"}]
    assert peer not in rule["from"]


def test_pods_carry_component_and_release_labels(defaults: list[Manifest]) -> None:
    for container in service_containers(defaults):
        labels = container.workload["spec"]["template"]["metadata"]["labels"]
        component = container.workload["metadata"]["labels"]["app.kubernetes.io/component"]
        assert labels["component"] == component
        assert labels["release"] == "promethean"
        selector = container.workload["spec"]["selector"]["matchLabels"]
        assert "component" not in selector


def test_every_container_of_every_render_has_resources() -> None:
    renders = [
        render(),
        render({"mongodb": {"replicas": 3}, "topics": [{"name": "t"}]}),
    ]
    for manifests in renders:
        for container in containers(manifests):
            resources = container.spec["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), container.label
            assert "memory" in resources["limits"], container.label


def test_default_environment_resolves(defaults: list[Manifest]) -> None:
    secrets = secret_data(defaults)
    for container in service_containers(defaults):
        env = resolve_env(container, secrets, "promethean-x-0")
        assert env["PROMETHEAN_BROKER_TOKEN"]


def notes(values: dict[str, Any] | None = None) -> str:
    with helm_python.Chart.load(CHART_DIR) as chart:
        files = chart.render(
            dict(values or {}), name="promethean", namespace="bus", is_install=True
        )
    return str(files["promethean/templates/NOTES.txt"])


def test_notes_tell_what_is_and_is_not_bundled() -> None:
    text = notes()
    assert "MongoDB replica set rs0 x1 (bundled" in text
    assert "logs job/promethean-mongodb-init-1" in text
    assert "does not back MongoDB up" in text
    assert "Not installed by this chart: Prometheus, Grafana" in text
    assert "helm test promethean -n bus" in text
    assert "not pinned by digest" in text
    external = notes({"mongodb": {"enabled": False}, "store": {"mongoUrl": EXTERNAL_URL}})
    assert "MongoDB: yours (URL from store.mongoUrl)" in external
    assert "bundled" not in external.split("Not installed")[0]


def test_notes_follow_ingress_and_hpa() -> None:
    text = notes(
        {
            "gateway": {
                "ingress": {"enabled": True, "host": "bus.example.org", "tlsSecret": "t"},
                "autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 9},
            }
        }
    )
    assert "wss://bus.example.org/ws" in text
    assert "gateway x3-9 (HPA on CPU)" in text
