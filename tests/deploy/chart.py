"""Render deploy/helm offline with the Helm v4 engine (helm-python-sdk) and
read what came out: manifests, workloads, containers and their environment.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import helm_python
import yaml

ROOT: Final = Path(__file__).resolve().parents[2]
CHART_DIR: Final = ROOT / "deploy" / "helm"
VALUES_DIR: Final = Path(__file__).resolve().parent / "values"
RELEASE: Final = "promethean"
NAMESPACE: Final = "bus"
WORKLOAD_KINDS: Final = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "Pod"})
COMPONENTS: Final = ("broker", "gateway", "outbox-drainer", "compactor", "worker")
REFERENCE_RE: Final = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)")

Manifest = dict[str, Any]


def load_values(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((VALUES_DIR / name).read_text(encoding="utf-8"))
    return loaded


def render(values: Mapping[str, Any] | None = None, *, release: str = RELEASE) -> list[Manifest]:
    """Every object the chart renders for ``values`` (NOTES.txt excluded)."""
    with helm_python.Chart.load(CHART_DIR) as chart:
        files = chart.render(dict(values or {}), name=release, namespace=NAMESPACE, is_install=True)
    manifests: list[Manifest] = []
    for path, text in sorted(files.items()):
        if path.endswith(".txt"):
            continue
        manifests.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return manifests


def by_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def named(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    for manifest in manifests:
        if manifest["kind"] == kind and manifest["metadata"]["name"] == name:
            return manifest
    raise LookupError(f"no {kind} named {name} among {describe(manifests)}")


def describe(manifests: list[Manifest]) -> list[str]:
    return [f"{m['kind']}/{m['metadata']['name']}" for m in manifests]


def workloads(manifests: list[Manifest]) -> list[Manifest]:
    return [m for m in manifests if m["kind"] in WORKLOAD_KINDS]


def pod_spec(workload: Manifest) -> dict[str, Any]:
    if workload["kind"] == "Pod":
        pod: dict[str, Any] = workload["spec"]
        return pod
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


@dataclass(frozen=True)
class Container:
    workload: Manifest
    spec: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.workload['kind']}/{self.workload['metadata']['name']}:{self.spec['name']}"


def containers(manifests: list[Manifest]) -> Iterator[Container]:
    for workload in workloads(manifests):
        spec = pod_spec(workload)
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            yield Container(workload, container)


def service_containers(manifests: list[Manifest]) -> Iterator[Container]:
    """The main container of each of the five services' workloads."""
    for component in COMPONENTS:
        try:
            workload = component_workload(manifests, component)
        except LookupError:
            continue
        yield Container(workload, pod_spec(workload)["containers"][0])


def component_workload(manifests: list[Manifest], component: str) -> Manifest:
    for workload in workloads(manifests):
        labels = workload["metadata"]["labels"]
        if labels.get("app.kubernetes.io/component") == component:
            return workload
    raise LookupError(f"no workload for component {component} among {describe(manifests)}")


def secret_data(manifests: list[Manifest]) -> dict[str, dict[str, str]]:
    """Secret name → decoded key/value pairs, for every rendered Secret."""
    secrets: dict[str, dict[str, str]] = {}
    for secret in by_kind(manifests, "Secret"):
        decoded = {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}
        decoded.update(secret.get("stringData", {}))
        secrets[secret["metadata"]["name"]] = decoded
    return secrets


def resolve_env(
    container: Container, secrets: Mapping[str, Mapping[str, str]], pod_name: str
) -> dict[str, str]:
    """The container's environment as the kubelet would build it: literal
    values with their $(NAME) references expanded, secretKeyRef from the
    rendered Secrets (an optional key that is absent is left out), and the
    downward API's metadata.name."""
    env: dict[str, str] = {}
    for entry in container.spec.get("env", []):
        name = entry["name"]
        if "value" in entry:
            env[name] = expand_references(str(entry["value"]), env)
            continue
        source = entry["valueFrom"]
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            value = secrets.get(ref["name"], {}).get(ref["key"])
            if value is None:
                if ref.get("optional"):
                    continue
                raise LookupError(f"{container.label}: {name} refers to a missing Secret key {ref}")
            env[name] = value
        elif source.get("fieldRef", {}).get("fieldPath") == "metadata.name":
            env[name] = pod_name
        else:
            raise LookupError(f"{container.label}: {name} has an unsupported source {source}")
    return env


def expand_references(value: str, defined: Mapping[str, str]) -> str:
    """The kubelet's expansion of an env value: $(NAME) of a variable
    defined earlier in the list becomes its value, an unknown one stays as
    written, and $$ is a literal $."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "$"
        return defined.get(name, match.group(0))

    return REFERENCE_RE.sub(replace, value)
