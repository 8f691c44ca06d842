"""The pieces of the operator journey test (test_journey.py): the rendered
chart's pods as local processes named as Kubernetes would name them, a real
Prometheus that discovers them through a file standing in for the
Kubernetes API (so the chart's own scrape job and relabeling apply), and
PromQL queries against it."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import shutil
import subprocess
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from tests.deploy.chart import (
    CHART_DIR,
    NAMESPACE,
    Container,
    Manifest,
    component_workload,
    pod_spec,
    resolve_env,
    secret_data,
)
from tests.deploy.processes import PORT_VARIABLES, ServiceProcess, advertise_on_loopback
from tests.fixtures.broker import http_get
from tests.fixtures.ferretdb import free_port

SCRAPE_JOB: Final = CHART_DIR / "files" / "prometheus-pods-job.yaml"
SCRAPE_INTERVAL: Final = "1s"
RATE_WINDOW: Final = "1m"
READY_TIMEOUT_S: Final = 60.0
POLL_S: Final = 0.2
METRICS_PORT_VARIABLE: Final = "PROMETHEAN_METRICS_PORT"


def pod_name(workload: Manifest, ordinal: int) -> str:
    """The name Kubernetes gives a pod: ``<statefulset>-<n>``, or for a
    Deployment ``<deployment>-<pod-template-hash>-<5 characters>``."""
    name: str = workload["metadata"]["name"]
    if workload["kind"] == "StatefulSet":
        return f"{name}-{ordinal}"
    template = json.dumps(workload["spec"]["template"], sort_keys=True).encode()
    digest = hashlib.sha256(template).hexdigest()
    suffix = hashlib.sha256(f"{name}{ordinal}".encode()).hexdigest()
    return f"{name}-{digest[:9]}-{suffix[:5]}"


@dataclass
class Pod:
    """One pod of the rendered chart, running as a local process."""

    component: str
    name: str
    labels: dict[str, str]
    annotations: dict[str, str]
    process: ServiceProcess
    metrics_port: int

    def target(self) -> dict[str, Any]:
        """A file_sd target carrying the meta labels Kubernetes service
        discovery (role: pod) would give this pod, its annotated port moved
        to the port the local process listens on."""
        labels = {
            "__meta_kubernetes_namespace": NAMESPACE,
            "__meta_kubernetes_pod_name": self.name,
            "__meta_kubernetes_pod_phase": "Running",
        }
        for key, value in self.labels.items():
            labels[f"__meta_kubernetes_pod_label_{sanitize(key)}"] = value
        for key, value in self.annotations.items():
            labels[f"__meta_kubernetes_pod_annotation_{sanitize(key)}"] = value
        labels["__meta_kubernetes_pod_annotation_prometheus_io_port"] = str(self.metrics_port)
        return {"targets": [f"127.0.0.1:{self.process.port}"], "labels": labels}


def sanitize(name: str) -> str:
    """Kubernetes SD's label-name sanitizing: anything else becomes ``_``."""
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)


def wait_live(process: ServiceProcess, timeout: float = READY_TIMEOUT_S) -> None:
    """For a pod that is live but, by design, not ready (a broker standby)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.process.poll() is not None:
            pytest.fail(f"{process.component} exited:\n{process.log_tail()}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            if http_get(process.port, "/healthz/live", timeout=2.0)[0] == 200:
                return
        time.sleep(POLL_S)
    pytest.fail(f"{process.component} not live within {timeout:.0f}s:\n{process.log_tail()}")


@dataclass
class Cluster:
    """The rendered chart's workloads as local processes on one store."""

    manifests: list[Manifest]
    store_url: str
    workdir: Path
    pods: dict[str, Pod] = field(default_factory=dict)
    broker_port: int = 0

    @property
    def secrets(self) -> dict[str, dict[str, str]]:
        return secret_data(self.manifests)

    def main_container(self, component: str) -> Container:
        workload = component_workload(self.manifests, component)
        return Container(workload, pod_spec(workload)["containers"][0])

    def env(self, container: Container, name: str) -> tuple[dict[str, str], int, int]:
        """The container's environment moved onto loopback: the store URL
        becomes FerretDB's, ports become free ones, BUS_URL the local
        broker. Returns (env, http port, metrics port)."""
        env = resolve_env(container, self.secrets, name)
        if "MONGO_URL" in env:
            env["MONGO_URL"] = self.store_url
        env["PROMETHEAN_HOST"] = "127.0.0.1"
        component = container.workload["metadata"]["labels"]["app.kubernetes.io/component"]
        port = free_port()
        env[PORT_VARIABLES[component]] = str(port)
        metrics_port = port
        if METRICS_PORT_VARIABLE in env:
            metrics_port = free_port()
            env[METRICS_PORT_VARIABLE] = str(metrics_port)
        if "BUS_URL" in env:
            env["BUS_URL"] = f"ws://127.0.0.1:{self.broker_port}/ws"
        advertise_on_loopback(env, port)
        return env, port, metrics_port

    def start(self, component: str, ordinal: int) -> Pod:
        container = self.main_container(component)
        workload = container.workload
        name = pod_name(workload, ordinal)
        env, port, metrics_port = self.env(container, name)
        template = workload["spec"]["template"]["metadata"]
        process = ServiceProcess(component, env, port, self.workdir)
        pod = Pod(
            component,
            name,
            dict(template["labels"]),
            dict(template.get("annotations", {})),
            process,
            metrics_port,
        )
        self.pods[name] = pod
        if component == "broker" and not self.broker_port:
            self.broker_port = port
        return pod

    def stop(self, name: str) -> int:
        """SIGTERM as the kubelet sends it; the exit code within the pod's grace."""
        pod = self.pods.pop(name)
        grace = pod_spec(component_workload(self.manifests, pod.component))[
            "terminationGracePeriodSeconds"
        ]
        return pod.process.terminate(float(grace))

    def kill_all(self) -> None:
        for pod in self.pods.values():
            pod.process.kill()

    def write_targets(self, path: Path) -> None:
        """The file Prometheus discovers the pods through (atomically replaced)."""
        scraped = [
            p.target()
            for p in self.pods.values()
            if p.annotations.get("prometheus.io/scrape") == "true"
        ]
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(scraped), encoding="utf-8")
        temporary.replace(path)


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is not None:
        return found
    message = (
        "prometheus is not installed (Debian package `prometheus`; scripts/test.sh installs it)"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def scrape_config(targets: Path) -> dict[str, Any]:
    """The chart's pod scrape job with Kubernetes discovery replaced by the
    targets file; its relabeling is kept as shipped."""
    job: dict[str, Any] = yaml.safe_load(SCRAPE_JOB.read_text(encoding="utf-8"))
    assert job.pop("kubernetes_sd_configs") == [{"role": "pod"}]
    job["file_sd_configs"] = [{"files": [str(targets)], "refresh_interval": "1s"}]
    job["scrape_interval"] = SCRAPE_INTERVAL
    job["scrape_timeout"] = SCRAPE_INTERVAL
    return {"global": {"scrape_interval": SCRAPE_INTERVAL}, "scrape_configs": [job]}


class Prometheus:
    def __init__(self, workdir: Path, targets: Path) -> None:
        self.port = free_port()
        config = workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump(scrape_config(targets)), encoding="utf-8")
        self.log_path = workdir / "prometheus.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    prometheus_binary(),
                    f"--config.file={config}",
                    f"--storage.tsdb.path={workdir / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--storage.tsdb.retention.time=1d",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log_tail(self) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"prometheus exited:\n{self.log_tail()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                if http_get(self.port, "/-/ready", timeout=2.0)[0] == 200:
                    return
            time.sleep(POLL_S)
        pytest.fail(f"prometheus not ready:\n{self.log_tail()}")

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        status, body = http_get(self.port, "/api/v1/query?" + urllib.parse.urlencode(params))
        assert status == 200, f"{expr}: {status} {body}"
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def wait_for(what: str, check: Any, timeout: float = 60.0) -> Any:
    """Poll ``check()`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    pytest.fail(f"{what}: not within {timeout:.0f}s (last {last!r})")


def env_for(container: Container, secrets: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    return resolve_env(container, secrets, "job-pod")
