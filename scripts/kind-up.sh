#!/usr/bin/env bash
# The whole bus on a local kind cluster, from nothing: create the cluster,
# build the five images from this checkout (one Dockerfile, one target per
# service) and load them into the nodes, install kube-prometheus-stack
# (Prometheus, Grafana, the operator), install deploy/helm with its bundled
# MongoDB replica set, wait until it serves, and print how to reach the
# gateway, Prometheus and Grafana. .github/workflows/e2e-kind.yml runs this
# same script.
#
#   bash scripts/kind-up.sh                  # needs docker, kind, kubectl, helm
#   PROMETHEAN_VALUES=my.yaml bash scripts/kind-up.sh   # extra chart values
#   PROMETHEAN_KIND_MONITORING=0 bash scripts/kind-up.sh  # no Prometheus/Grafana
#   kind delete cluster --name promethean    # remove it all
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

CLUSTER="${PROMETHEAN_KIND_CLUSTER:-promethean}"
NAMESPACE="${PROMETHEAN_NAMESPACE:-promethean}"
RELEASE="${PROMETHEAN_RELEASE:-promethean}"
TAG="${PROMETHEAN_IMAGE_TAG:-kind}"
VALUES="${PROMETHEAN_VALUES:-}"
MONITORING="${PROMETHEAN_KIND_MONITORING:-1}"
TIMEOUT="${PROMETHEAN_KIND_TIMEOUT:-600s}"
# Pinned by tag and digest; VERSION_MATRIX.md records both.
KIND_NODE_IMAGE="kindest/node:v1.32.2@sha256:3966f21e12b760f6585bde7140cae5e8cdc0e52b37a6f90ce39834b6e72e3f49"
MONITORING_CHART="oci://ghcr.io/prometheus-community/charts/kube-prometheus-stack"
MONITORING_VERSION="77.10.0"
REGISTRY="ghcr.io/promethean-bus"
SERVICES=(broker gateway outbox-drainer compactor partitioned-worker)
VALUE_KEYS=(broker gateway outboxDrainer compactor worker)

say() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'kind-up: %s\n' "$*" >&2; exit 1; }

for tool in docker kind kubectl helm; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (see docs/operations.md, 'From an empty cluster')"
done
docker info >/dev/null 2>&1 || die "docker is installed but its daemon does not answer"

if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
    say "kind cluster $CLUSTER exists; reusing it"
else
    say "creating kind cluster $CLUSTER"
    kind create cluster --name "$CLUSTER" --image "$KIND_NODE_IMAGE" --wait 180s
fi
kubectl config use-context "kind-$CLUSTER" >/dev/null

say "building the images (tag $TAG)"
for service in "${SERVICES[@]}"; do
    docker build --target "$service" --tag "$REGISTRY/$service:$TAG" \
        --build-arg VERSION="$TAG" --build-arg REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)" .
done

say "loading the images into the nodes"
for service in "${SERVICES[@]}"; do
    kind load docker-image --name "$CLUSTER" "$REGISTRY/$service:$TAG"
done

monitoring_args=()
if [[ "$MONITORING" == 1 ]]; then
    say "installing kube-prometheus-stack $MONITORING_VERSION (namespace monitoring)"
    # Prometheus selects every ServiceMonitor and PrometheusRule, Grafana's
    # sidecar loads every ConfigMap labelled grafana_dashboard=1.
    helm upgrade --install monitoring "$MONITORING_CHART" --version "$MONITORING_VERSION" \
        --namespace monitoring --create-namespace --wait --timeout "$TIMEOUT" \
        --set prometheus.prometheusSpec.serviceMonitorSelectorNilUsesHelmValues=false \
        --set prometheus.prometheusSpec.ruleSelectorNilUsesHelmValues=false \
        --set prometheus.prometheusSpec.podMonitorSelectorNilUsesHelmValues=false \
        --set grafana.sidecar.dashboards.searchNamespace=ALL \
        --set alertmanager.enabled=false
    monitoring_args=(--set metrics.serviceMonitor.enabled=true --set metrics.prometheusRule.enabled=true)
fi

say "installing $RELEASE (deploy/helm, bundled MongoDB) in namespace $NAMESPACE"
image_args=(--set image.pullPolicy=Never)
for key in "${VALUE_KEYS[@]}"; do
    image_args+=(--set "$key.image.tag=$TAG")
done
values_args=()
[[ -n "$VALUES" ]] && values_args=(--values "$VALUES")
helm upgrade --install "$RELEASE" deploy/helm --namespace "$NAMESPACE" --create-namespace \
    "${image_args[@]}" "${monitoring_args[@]}" "${values_args[@]}" --wait --timeout "$TIMEOUT"

say "waiting for every broker to be ready"
# Every broker is active and Ready once it serves its share of the partitions.
broker_statefulset="$(kubectl -n "$NAMESPACE" get statefulset \
    -l "app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/component=broker" \
    -o jsonpath='{.items[0].metadata.name}')"
[[ -n "$broker_statefulset" ]] || die "no broker StatefulSet in namespace $NAMESPACE"
kubectl -n "$NAMESPACE" rollout status "statefulset/$broker_statefulset" --timeout "$TIMEOUT" \
    || die "the brokers did not all become ready; kubectl -n $NAMESPACE logs statefulset/$broker_statefulset"
kubectl -n "$NAMESPACE" get pods -o wide

gateway_service="$(kubectl -n "$NAMESPACE" get service \
    -l "app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/component=gateway" \
    -o jsonpath='{.items[?(@.spec.clusterIP!="None")].metadata.name}')"
secret="$(kubectl -n "$NAMESPACE" get secret -l "app.kubernetes.io/instance=$RELEASE" \
    -o jsonpath='{.items[?(@.data.JWT_SECRET)].metadata.name}')"
cat <<MSG

Promethean is up in kind cluster "$CLUSTER", namespace "$NAMESPACE".

Gateway (WebSocket and HTTP publish):
  kubectl -n $NAMESPACE port-forward svc/$gateway_service 8090:8090
  ws://127.0.0.1:8090/ws   -- AUTH with an HS256 JWT signed by:
  kubectl -n $NAMESPACE get secret $secret -o jsonpath='{.data.JWT_SECRET}' | base64 -d
  helm test $RELEASE -n $NAMESPACE   # publishes and consumes one event

Brokers (every one active; partitions move when you scale):
  kubectl -n $NAMESPACE scale statefulset/$broker_statefulset --replicas=3
  kubectl -n $NAMESPACE rollout status statefulset/$broker_statefulset
MSG
if [[ "$MONITORING" == 1 ]]; then
    cat <<MSG

Prometheus:
  kubectl -n monitoring port-forward svc/monitoring-kube-prometheus-prometheus 9090:9090
  http://127.0.0.1:9090   (try: promethean_published_total{namespace="$NAMESPACE"})
Grafana (dashboard "Promethean Event Bus"):
  kubectl -n monitoring port-forward svc/monitoring-grafana 3000:80
  http://127.0.0.1:3000   user admin, password:
  kubectl -n monitoring get secret monitoring-grafana -o jsonpath='{.data.admin-password}' | base64 -d
MSG
fi
