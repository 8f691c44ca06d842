"""deploy/helm renders, with its defaults and with a production-like
override, into objects a recent Kubernetes accepts, and keeps the
invariants operators rely on: probes, resources, non-root, pinned images,
drain inside the grace period, the worker StatefulSet's name and identity."""

from __future__ import annotations

import re
from typing import Any, Final

import helm_python
import kubernetes_validate
import pytest
import yaml

from tests.deploy.chart import (
    CHART_DIR,
    NAMESPACE,
    Container,
    Manifest,
    by_kind,
    component_workload,
    containers,
    describe,
    expand_references,
    load_values,
    named,
    pod_spec,
    render,
    resolve_env,
    secret_data,
    service_containers,
    workloads,
)
from tests.deploy.processes import PORT_VARIABLES

KUBERNETES_VERSION: Final = "1.35.0"
OPERATOR_KINDS: Final = frozenset({"ServiceMonitor", "PrometheusRule"})
DIGEST_IMAGE_RE: Final = re.compile(r"^[a-z0-9./-]+:[A-Za-z0-9_.-]+@sha256:[0-9a-f]{64}$")
COMPONENTS: Final = ("broker", "gateway", "outbox-drainer", "compactor", "worker")
REGISTRY: Final = "ghcr.io/promethean-bus"
MONGO_IMAGE_RE: Final = re.compile(r"^docker\.io/library/mongo:[0-9][0-9.]*@sha256:[0-9a-f]{64}$")


@pytest.fixture(scope="module")
def defaults() -> list[Manifest]:
    return render()


@pytest.fixture(scope="module")
def scaled() -> list[Manifest]:
    return render(load_values("scaled.yaml"))


@pytest.fixture(params=["defaults", "scaled"])
def manifests(request: pytest.FixtureRequest) -> list[Manifest]:
    rendered: list[Manifest] = request.getfixturevalue(request.param)
    return rendered


# -- Kubernetes accepts what is rendered ------------------------------------


def test_every_manifest_validates_against_kubernetes(manifests: list[Manifest]) -> None:
    checked = 0
    for manifest in manifests:
        if manifest["kind"] in OPERATOR_KINDS:
            assert manifest["apiVersion"] == "monitoring.coreos.com/v1"
            continue
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(part) for part in exc.path)
            pytest.fail(f"{manifest['kind']}/{manifest['metadata']['name']}: {path}: {exc.message}")
        checked += 1
    assert checked >= 10, describe(manifests)


def test_defaults_render_every_component(defaults: list[Manifest]) -> None:
    for component in COMPONENTS:
        component_workload(defaults, component)
    assert not [m for m in defaults if m["kind"] in OPERATOR_KINDS]


def test_every_object_is_labelled_for_the_release(manifests: list[Manifest]) -> None:
    for manifest in manifests:
        labels = manifest["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == "promethean", manifest["metadata"]
        assert labels["app.kubernetes.io/managed-by"] == "Helm"


# -- invariants of every container -------------------------------------------


def test_every_container_probes_live_and_ready_on_its_port(manifests: list[Manifest]) -> None:
    for container in service_containers(manifests):
        spec = container.spec
        ports = {p["name"]: p["containerPort"] for p in spec["ports"]}
        assert "http" in ports, container.label
        for probe, path in (
            ("startupProbe", "/healthz/live"),
            ("livenessProbe", "/healthz/live"),
            ("readinessProbe", "/healthz/ready"),
        ):
            assert spec[probe]["httpGet"] == {"path": path, "port": "http"}, container.label


def test_every_container_has_requests_and_a_memory_limit(manifests: list[Manifest]) -> None:
    for container in containers(manifests):
        resources = container.spec["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]), container.label
        assert "memory" in resources["limits"], container.label


def test_every_container_runs_as_non_root(manifests: list[Manifest]) -> None:
    for container in containers(manifests):
        pod = pod_spec(container.workload)["securityContext"]
        own = container.spec["securityContext"]
        assert pod["runAsNonRoot"] is True, container.label
        assert own["runAsNonRoot"] is True, container.label
        assert pod["runAsUser"] != 0, container.label
        assert own["allowPrivilegeEscalation"] is False, container.label
        assert own["capabilities"]["drop"] == ["ALL"], container.label
        assert own["readOnlyRootFilesystem"] is True, container.label


def test_grace_period_covers_the_drain(manifests: list[Manifest]) -> None:
    for container in service_containers(manifests):
        env = {e["name"]: e.get("value") for e in container.spec["env"]}
        drain_ms = int(env["PROMETHEAN_DRAIN_MS"])
        grace_s = pod_spec(container.workload)["terminationGracePeriodSeconds"]
        assert grace_s * 1000 > drain_ms, (container.label, grace_s, drain_ms)


def test_per_component_drain_overrides_the_common_one(scaled: list[Manifest]) -> None:
    compactor = component_workload(scaled, "compactor")
    env = {e["name"]: e.get("value") for e in pod_spec(compactor)["containers"][0]["env"]}
    assert env["PROMETHEAN_DRAIN_MS"] == "120000"
    assert pod_spec(compactor)["terminationGracePeriodSeconds"] == 125
    gateway = component_workload(scaled, "gateway")
    assert pod_spec(gateway)["terminationGracePeriodSeconds"] == 50


def test_container_port_is_the_port_the_service_listens_on(manifests: list[Manifest]) -> None:
    for component, variable in PORT_VARIABLES.items():
        container = pod_spec(component_workload(manifests, component))["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert int(env[variable]) == container["ports"][0]["containerPort"], component
        assert env["PROMETHEAN_HOST"] == "0.0.0.0"


# -- images ------------------------------------------------------------------


def test_default_images_are_the_ones_a_release_publishes(defaults: list[Manifest]) -> None:
    """The five GHCR repositories .github/workflows/release.yml pushes to,
    at the chart's appVersion, and the official mongo image by digest."""
    app_version = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())["appVersion"]
    images = {c.spec["image"] for c in containers(defaults)}
    mongo = {image for image in images if "/mongo:" in image}
    assert len(mongo) == 1
    assert MONGO_IMAGE_RE.fullmatch(mongo.pop())
    assert images - {i for i in images if "/mongo:" in i} == {
        f"{REGISTRY}/{name}:{app_version}"
        for name in ("broker", "gateway", "outbox-drainer", "compactor", "partitioned-worker")
    }


def test_production_images_are_pinned_by_digest(scaled: list[Manifest]) -> None:
    for container in service_containers(scaled):
        image = container.spec["image"]
        assert DIGEST_IMAGE_RE.fullmatch(image), (container.label, image)
        assert image.startswith("registry.example.com/promethean/"), image
        assert container.spec["imagePullPolicy"] == "Always"
    for container in containers(scaled):
        if container.spec["image"].startswith("registry.example.com/"):
            spec = pod_spec(container.workload)
            assert spec["imagePullSecrets"] == [{"name": "registry-credentials"}], container.label


def test_require_digest_refuses_an_unpinned_image() -> None:
    values = load_values("scaled.yaml")
    values["worker"]["image"]["digest"] = ""
    with pytest.raises(Exception, match="requireDigest") as caught:
        render(values)
    assert "partitioned-worker" in str(caught.value)


# -- the broker ---------------------------------------------------------------


def test_broker_is_a_statefulset_of_active_brokers(defaults: list[Manifest]) -> None:
    broker = named(defaults, "StatefulSet", "promethean-broker")
    assert broker["spec"]["replicas"] == 2
    assert broker["spec"]["serviceName"] == "promethean-broker-headless"
    # Every healthy broker is Ready, so an update may replace one pod at a
    # time and wait for it; brokers do not depend on one another's order.
    assert broker["spec"]["updateStrategy"] == {"type": "RollingUpdate"}
    assert broker["spec"]["podManagementPolicy"] == "Parallel"
    assert "volumeClaimTemplates" not in broker["spec"], "all durable state is in the store"
    env = pod_spec(broker)["containers"][0]["env"]
    by_name = {e["name"]: e for e in env}
    assert by_name["PROMETHEAN_BROKER_ID"]["valueFrom"] == {
        "fieldRef": {"fieldPath": "metadata.name"}
    }
    assert by_name["MONGO_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "promethean",
        "key": "MONGO_URL",
    }


def test_each_broker_advertises_its_pod_dns_name(defaults: list[Manifest]) -> None:
    """The kubelet expands $(PROMETHEAN_BROKER_ID), set before it from the
    downward API, into the pod's name on the headless Service."""
    broker = named(defaults, "StatefulSet", "promethean-broker")
    env = pod_spec(broker)["containers"][0]["env"]
    names = [e["name"] for e in env]
    assert names.index("PROMETHEAN_BROKER_ID") < names.index("PROMETHEAN_ADVERTISED_URL")
    resolved = resolve_env(
        Container(broker, pod_spec(broker)["containers"][0]),
        secret_data(defaults),
        "promethean-broker-2",
    )
    assert resolved["PROMETHEAN_ADVERTISED_URL"] == (
        "ws://promethean-broker-2.promethean-broker-headless.bus.svc.cluster.local:7070"
    )


def test_env_references_expand_as_the_kubelet_does() -> None:
    defined = {"POD": "promethean-broker-1"}
    assert expand_references("ws://$(POD).svc:7070", defined) == "ws://promethean-broker-1.svc:7070"
    assert expand_references("$(LATER)-$$(POD)", defined) == "$(LATER)-$(POD)"


def test_advertised_address_follows_port_and_cluster_domain() -> None:
    manifests = render({"broker": {"port": 7443, "clusterDomain": "corp.internal"}})
    broker = named(manifests, "StatefulSet", "promethean-broker")
    env = {e["name"]: e for e in pod_spec(broker)["containers"][0]["env"]}
    assert env["PROMETHEAN_ADVERTISED_URL"]["value"] == (
        "ws://$(PROMETHEAN_BROKER_ID).promethean-broker-headless.bus.svc.corp.internal:7443"
    )


@pytest.mark.parametrize("where", ["broker", "common"])
def test_several_brokers_on_a_sqlite_file_are_refused(where: str) -> None:
    values = {where: {"env": {"PROMETHEAN_STORE": "sqlite:////tmp/bus.db"}}}
    with pytest.raises(Exception, match=r"SQLite cannot be shared between broker pods"):
        render(values)
    with pytest.raises(Exception, match=r"broker\.replicas is 3"):
        render({**values, "broker": {**values.get("broker", {}), "replicas": 3}})


def test_one_broker_on_a_sqlite_file_renders() -> None:
    manifests = render(
        {"broker": {"replicas": 1, "env": {"PROMETHEAN_STORE": "sqlite:////tmp/bus.db"}}}
    )
    broker = named(manifests, "StatefulSet", "promethean-broker")
    assert broker["spec"]["replicas"] == 1


def test_a_mongodb_store_override_allows_several_brokers() -> None:
    store = "mongodb://mongo-0.example:27017/?replicaSet=rs0"
    manifests = render({"broker": {"replicas": 3, "env": {"PROMETHEAN_STORE": store}}})
    assert named(manifests, "StatefulSet", "promethean-broker")["spec"]["replicas"] == 3


def test_compactor_is_a_leader_and_a_standby(defaults: list[Manifest]) -> None:
    compactor = named(defaults, "Deployment", "promethean-compactor")
    assert compactor["spec"]["replicas"] == 2
    assert compactor["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == "100%"
    env = {e["name"]: e for e in pod_spec(compactor)["containers"][0]["env"]}
    assert env["PROMETHEAN_COMPACTOR_ID"]["valueFrom"] == {
        "fieldRef": {"fieldPath": "metadata.name"}
    }


def test_broker_services_route_clients_and_name_every_pod(
    defaults: list[Manifest],
) -> None:
    broker = named(defaults, "StatefulSet", "promethean-broker")
    selector = broker["spec"]["selector"]["matchLabels"]
    service = named(defaults, "Service", "promethean-broker")
    assert service["spec"]["selector"] == selector
    assert service["spec"]["type"] == "ClusterIP"
    assert not service["spec"].get("publishNotReadyAddresses", False)
    headless = named(defaults, "Service", broker["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["selector"] == selector
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert headless["metadata"]["labels"]["promethean.io/metrics"] == "true"


def test_network_policy_keeps_the_broker_internal(manifests: list[Manifest]) -> None:
    policy = named(manifests, "NetworkPolicy", "promethean-broker")
    broker = named(manifests, "StatefulSet", "promethean-broker")
    assert policy["spec"]["podSelector"]["matchLabels"] == broker["spec"]["selector"]["matchLabels"]
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    [rule] = policy["spec"]["ingress"]
    peers = rule["from"]
    assert peers[0] == {
        "podSelector": {
            "matchLabels": {
                "app.kubernetes.io/name": "promethean",
                "app.kubernetes.io/instance": "promethean",
            }
        }
    }
    # Nothing but the release's pods and the named scrapers; no ipBlock.
    assert all("ipBlock" not in peer for peer in peers)
    assert len(peers) == 2
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]


def test_network_policy_can_be_turned_off() -> None:
    assert not by_kind(render({"networkPolicy": {"enabled": False}}), "NetworkPolicy")


# -- the worker ---------------------------------------------------------------


def test_worker_is_the_statefulset_promethean_worker(manifests: list[Manifest]) -> None:
    worker = named(manifests, "StatefulSet", "promethean-worker")
    assert worker["spec"]["podManagementPolicy"] == "Parallel"
    headless = named(manifests, "Service", worker["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["selector"] == worker["spec"]["selector"]["matchLabels"]
    env = {e["name"]: e for e in pod_spec(worker)["containers"][0]["env"]}
    assert env["PROMETHEAN_INSTANCE_ID"]["valueFrom"] == {
        "fieldRef": {"fieldPath": "metadata.name"}
    }
    assert env["BUS_URL"]["value"] == "ws://promethean-broker:7070/ws"


def test_worker_replicas_group_and_handlers_follow_values(scaled: list[Manifest]) -> None:
    worker = named(scaled, "StatefulSet", "promethean-worker")
    assert worker["spec"]["replicas"] == 6
    env = {e["name"]: e.get("value") for e in pod_spec(worker)["containers"][0]["env"]}
    assert env["PROMETHEAN_WORKER_GROUP"] == "projectors"
    assert env["PROMETHEAN_WORKER_HANDLERS"] == (
        "heartbeat-projector,changelog-projector@process.state"
    )
    assert env["PROMETHEAN_WORKER_TOPICS"] == "heartbeat.received"


def test_another_release_name_prefixes_every_object() -> None:
    manifests = render(release="bus")
    assert named(manifests, "StatefulSet", "bus-promethean-worker")
    assert {m["metadata"]["name"].startswith("bus-promethean") for m in manifests} == {True}


# -- secrets --------------------------------------------------------------------


def test_generated_secret_holds_a_strong_token_every_service_uses(
    defaults: list[Manifest],
) -> None:
    secret = secret_data(defaults)["promethean"]
    assert len(secret["PROMETHEAN_BROKER_TOKEN"]) >= 32
    assert re.fullmatch(r"[!-~]+", secret["PROMETHEAN_BROKER_TOKEN"])
    assert len(secret["JWT_SECRET"]) >= 32
    mongodb = secret_data(defaults)["promethean-mongodb"]
    assert secret["MONGO_URL"] == (
        f"mongodb://promethean:{mongodb['app-password']}@promethean-mongodb-0."
        "promethean-mongodb-headless.bus.svc.cluster.local:27017/promethean"
        "?replicaSet=rs0&authSource=admin"
    )
    for container in service_containers(defaults):
        env = resolve_env(container, secret_data(defaults), "pod-0")
        assert env["PROMETHEAN_BROKER_TOKEN"] == secret["PROMETHEAN_BROKER_TOKEN"]


def test_given_secrets_are_used_verbatim() -> None:
    manifests = render(
        {"auth": {"brokerToken": "t0ken-from-values", "jwtSecret": "jwt-from-values"}}
    )
    secret = secret_data(manifests)["promethean"]
    assert secret["PROMETHEAN_BROKER_TOKEN"] == "t0ken-from-values"
    assert secret["JWT_SECRET"] == "jwt-from-values"


def test_existing_secrets_replace_the_chart_secret(scaled: list[Manifest]) -> None:
    assert not by_kind(scaled, "Secret")
    for container in service_containers(scaled):
        refs = {
            e["name"]: e["valueFrom"]["secretKeyRef"]
            for e in container.spec["env"]
            if "secretKeyRef" in e.get("valueFrom", {})
        }
        assert refs["PROMETHEAN_BROKER_TOKEN"]["name"] == "promethean-credentials"
        if "MONGO_URL" in refs:
            assert refs["MONGO_URL"] == {"name": "promethean-mongo", "key": "url"}


def test_a_jwks_url_replaces_the_generated_jwt_secret() -> None:
    manifests = render({"auth": {"jwtJwksUrl": "https://issuer.example.com/jwks"}})
    assert "JWT_SECRET" not in secret_data(manifests)["promethean"]
    gateway = named(manifests, "Deployment", "promethean-gateway")
    env = {e["name"]: e for e in pod_spec(gateway)["containers"][0]["env"]}
    assert env["JWT_JWKS_URL"]["value"] == "https://issuer.example.com/jwks"
    assert env["JWT_SECRET"]["valueFrom"]["secretKeyRef"]["optional"] is True


def test_no_store_at_all_is_refused() -> None:
    with pytest.raises(Exception, match=r"store\.mongoUrl"):
        render({"mongodb": {"enabled": False}, "store": {"mongoUrl": ""}})


# -- disruption budgets and monitoring -----------------------------------------


def test_disruption_budgets_select_their_workloads(manifests: list[Manifest]) -> None:
    budgets = by_kind(manifests, "PodDisruptionBudget")
    assert budgets
    selectors = [
        w["spec"]["selector"]["matchLabels"]
        for w in workloads(manifests)
        if "selector" in w["spec"]
    ]
    for budget in budgets:
        assert budget["spec"]["selector"]["matchLabels"] in selectors, budget["metadata"]


def test_budgets_exist_where_they_cannot_block_a_drain(defaults: list[Manifest]) -> None:
    names = {b["metadata"]["name"] for b in by_kind(defaults, "PodDisruptionBudget")}
    assert names == {
        "promethean-broker",
        "promethean-gateway",
        "promethean-outbox-drainer",
        "promethean-worker",
    }


def test_broker_budget_allows_one_broker_down(defaults: list[Manifest]) -> None:
    budget = named(defaults, "PodDisruptionBudget", "promethean-broker")
    broker = named(defaults, "StatefulSet", "promethean-broker")
    assert budget["spec"]["maxUnavailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"] == broker["spec"]["selector"]["matchLabels"]


def test_scrape_annotations_name_the_metrics_port(defaults: list[Manifest]) -> None:
    for container in service_containers(defaults):
        workload = container.workload
        annotations = workload["spec"]["template"]["metadata"]["annotations"]
        ports = {p["name"]: p["containerPort"] for p in container.spec["ports"]}
        port = ports.get("metrics", ports["http"])
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(port)
        assert annotations["prometheus.io/path"] == "/metrics"


def test_service_monitor_finds_a_service_for_every_component(scaled: list[Manifest]) -> None:
    [monitor] = by_kind(scaled, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    wanted = monitor["spec"]["selector"]["matchLabels"]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    selected = [
        s for s in by_kind(scaled, "Service") if wanted.items() <= s["metadata"]["labels"].items()
    ]
    components = {s["metadata"]["labels"]["app.kubernetes.io/component"] for s in selected}
    assert components == set(COMPONENTS)
    endpoints = {e["port"]: e for e in monitor["spec"]["endpoints"]}
    assert set(endpoints) == {"http", "metrics"}
    for service in selected:
        assert {p["name"] for p in service["spec"]["ports"]} & set(endpoints), service["metadata"]
    for endpoint in endpoints.values():
        targets = {r["targetLabel"] for r in endpoint["relabelings"]}
        assert targets == {"component", "release"}
    public = named(scaled, "Service", "promethean-gateway")
    assert "promethean.io/metrics" not in public["metadata"]["labels"]
    assert [p["name"] for p in public["spec"]["ports"]] == ["http"]


def test_prometheus_rule_carries_the_alert_file(scaled: list[Manifest]) -> None:
    [rule] = by_kind(scaled, "PrometheusRule")
    alerts: dict[str, Any] = yaml.safe_load(
        (CHART_DIR / "files" / "alerts.yaml").read_text(encoding="utf-8")
    )
    assert rule["spec"] == alerts


def test_dashboard_config_map_carries_the_dashboard(defaults: list[Manifest]) -> None:
    config_map = named(defaults, "ConfigMap", "promethean-dashboard")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = (CHART_DIR / "dashboards" / "promethean.json").read_text(encoding="utf-8")
    assert config_map["data"]["promethean.json"] == shipped.rstrip("\n")


@pytest.mark.parametrize("values", [None, "scaled.yaml"])
def test_helm_lint_is_clean(values: str | None) -> None:
    report = helm_python.lint(
        CHART_DIR,
        load_values(values) if values else None,
        strict=True,
        kube_version="v1.32.2",
    )
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not problems, problems
    assert not report["errors"], report["errors"]
