"""The configuration the chart renders boots the services.

Each service runs as a local process with the environment of its rendered
pod (the generated Secret's token included), moved onto loopback and a
temporary SQLite store; it must report /healthz/ready, and on SIGTERM exit
0 within its pod's terminationGracePeriodSeconds. Every variable the chart
sets must be one its service reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Final

import pytest

from tests.deploy.chart import (
    ROOT,
    Container,
    Manifest,
    component_workload,
    containers,
    pod_spec,
    render,
    resolve_env,
    secret_data,
)
from tests.deploy.processes import (
    MODULES,
    SOURCE_DIRS,
    ServiceProcess,
    loopback_env,
    missing_entry_point,
    read_variables,
)
from tests.fixtures.broker import http_request
from tests.fixtures.ferretdb import free_port

DEPENDENTS: Final = ("gateway", "outbox-drainer", "compactor", "worker")


def main_container(manifests: list[Manifest], component: str) -> Container:
    workload = component_workload(manifests, component)
    return Container(workload, pod_spec(workload)["containers"][0])


def grace_seconds(manifests: list[Manifest], component: str) -> int:
    grace: int = pod_spec(component_workload(manifests, component))["terminationGracePeriodSeconds"]
    return grace


@pytest.fixture(scope="module")
def manifests() -> list[Manifest]:
    return render()


@pytest.mark.parametrize("component", list(MODULES))
def test_every_variable_the_chart_sets_is_read_by_its_service(
    manifests: list[Manifest], component: str
) -> None:
    assert (ROOT / SOURCE_DIRS[component]).is_dir(), f"{SOURCE_DIRS[component]} is missing"
    known = read_variables(component)
    set_by_chart = {e["name"] for e in main_container(manifests, component).spec["env"]}
    unread = sorted(set_by_chart - known)
    assert not unread, f"the chart sets variables {component} never reads: {unread}"


@pytest.fixture(scope="module")
def broker(
    manifests: list[Manifest], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    reason = missing_entry_point("broker")
    assert reason is None, reason
    workdir = tmp_path_factory.mktemp("chart-boot")
    store_url = f"sqlite:///{workdir / 'bus.db'}"
    rendered = resolve_env(
        main_container(manifests, "broker"), secret_data(manifests), "promethean-broker-0"
    )
    port = free_port()
    env = loopback_env(rendered, component="broker", port=port, store_url=store_url, bus_url="")
    process = ServiceProcess("broker", env, port, workdir)
    try:
        process.wait_ready()
        yield process
    finally:
        process.kill()


def start_dependent(
    manifests: list[Manifest], broker: ServiceProcess, component: str, pod_name: str
) -> ServiceProcess:
    reason = missing_entry_point(component)
    assert reason is None, reason
    rendered = resolve_env(main_container(manifests, component), secret_data(manifests), pod_name)
    store = broker.log_path.parent / "bus.db"
    port = free_port()
    env = loopback_env(
        rendered,
        component=component,
        port=port,
        store_url=f"sqlite:///{store}",
        bus_url=f"ws://127.0.0.1:{broker.port}/ws",
    )
    return ServiceProcess(component, env, port, broker.log_path.parent)


def test_broker_boots_from_the_rendered_configuration(
    manifests: list[Manifest], broker: ServiceProcess
) -> None:
    token = secret_data(manifests)["promethean"]["PROMETHEAN_BROKER_TOKEN"]
    status, _ = http_request(broker.port, "GET", "/topics")
    assert status == 401, "the broker must demand the chart's token"
    status, _ = http_request(
        broker.port, "GET", "/topics", headers={"Authorization": f"Bearer {token}"}
    )
    assert status == 200


def test_broker_advertises_the_address_it_listens_on(
    manifests: list[Manifest], broker: ServiceProcess
) -> None:
    """In the cluster the broker advertises its pod's DNS name on the
    headless Service; moved onto loopback, the address it listens on."""
    rendered = resolve_env(
        main_container(manifests, "broker"), secret_data(manifests), "promethean-broker-0"
    )
    assert rendered["PROMETHEAN_ADVERTISED_URL"] == (
        "ws://promethean-broker-0.promethean-broker-headless.bus.svc.cluster.local:7070"
    )
    assert broker.env["PROMETHEAN_ADVERTISED_URL"] == f"ws://127.0.0.1:{broker.port}"


@pytest.mark.parametrize("component", DEPENDENTS)
def test_service_boots_and_drains_within_the_grace_period(
    manifests: list[Manifest], broker: ServiceProcess, component: str
) -> None:
    process = start_dependent(manifests, broker, component, f"promethean-{component}-0")
    try:
        process.wait_ready()
        code = process.terminate(grace_seconds(manifests, component))
        assert code == 0, f"{component} exited {code} on SIGTERM:\n{process.log_tail()}"
    finally:
        process.kill()


def test_worker_joins_its_group_under_its_pod_name(
    manifests: list[Manifest], broker: ServiceProcess
) -> None:
    process = start_dependent(manifests, broker, "worker", "promethean-worker-0")
    try:
        process.wait_ready()
        env = {e["name"]: e.get("value") for e in main_container(manifests, "worker").spec["env"]}
        token = secret_data(manifests)["promethean"]["PROMETHEAN_BROKER_TOKEN"]
        status, body = http_request(
            broker.port,
            "GET",
            f"/groups/{env['PROMETHEAN_WORKER_GROUP']}",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert status == 200, body
        assert "promethean-worker-0" in json.dumps(body), body
    finally:
        process.kill()


SMOKE: Final = ROOT / "deploy" / "e2e" / "smoke.py"


def run_smoke(
    broker: ServiceProcess, gateway: ServiceProcess, secrets: dict[str, str], *args: str
) -> str:
    env = {
        **os.environ,
        "JWT_SECRET": secrets["JWT_SECRET"],
        "PROMETHEAN_BROKER_TOKEN": secrets["PROMETHEAN_BROKER_TOKEN"],
    }
    result = subprocess.run(
        [
            sys.executable,
            str(SMOKE),
            "--gateway",
            f"ws://127.0.0.1:{gateway.port}/ws",
            "--broker",
            f"http://127.0.0.1:{broker.port}",
            "--timeout",
            "40",
            *args,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, (
        f"smoke {args} failed:\n{result.stdout}{result.stderr}\n"
        f"gateway log:\n{gateway.log_tail()}\nbroker log:\n{broker.log_tail()}"
    )
    return result.stdout


def test_the_e2e_smoke_script_passes_against_the_booted_stack(
    manifests: list[Manifest], broker: ServiceProcess
) -> None:
    """What .github/workflows/e2e-kind.yml runs through port-forwards, run
    here against the same rendered configuration on loopback."""
    secrets = secret_data(manifests)["promethean"]
    gateway = start_dependent(manifests, broker, "gateway", "promethean-gateway-0")
    worker = start_dependent(manifests, broker, "worker", "promethean-worker-0")
    try:
        gateway.wait_ready()
        worker.wait_ready()
        out = run_smoke(broker, gateway, secrets, "publish", "--batch", "b1", "--count", "40")
        assert "published 40 events" in out
        out = run_smoke(broker, gateway, secrets, "ownership", "--members", "1")
        assert "1 members own all" in out
        out = run_smoke(broker, gateway, secrets, "consume", "--batches", "b1", "--count", "40")
        assert "acked all 40 events; lag 0" in out
    finally:
        gateway.kill()
        worker.kill()


def test_broker_drains_within_the_grace_period(
    manifests: list[Manifest], broker: ServiceProcess
) -> None:
    code = broker.terminate(grace_seconds(manifests, "broker"))
    assert code == 0, broker.log_tail()


def test_every_rendered_container_is_covered(manifests: list[Manifest]) -> None:
    """Every container of the chart is one of the five services booted here,
    or one whose own script tests/deploy/test_journey.py runs (wait-for-store,
    the topics Job, the helm test) or, for MongoDB, FerretDB stands in for."""
    labels = (c.workload["metadata"]["labels"] for c in containers(manifests))
    components = {label["app.kubernetes.io/component"] for label in labels}
    assert components - set(MODULES) <= {"mongodb", "mongodb-init", "test", "topics"}
    assert set(MODULES) <= components
