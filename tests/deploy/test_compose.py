"""deploy/compose/docker-compose.yml: pinned images, builds from the service
Dockerfiles, settings every service reads, health checks and Prometheus
scrape targets on the ports the services listen on."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from tests.deploy.chart import ROOT
from tests.deploy.processes import PORT_VARIABLES, read_variables
from tests.deploy.promql import check_rules, promtool

COMPOSE_DIR: Final = ROOT / "deploy" / "compose"
COMPOSE: Final = COMPOSE_DIR / "docker-compose.yml"
MATRIX: Final = ROOT / "VERSION_MATRIX.md"
PINNED_RE: Final = re.compile(r"^[a-z0-9./-]+:[A-Za-z0-9_.-]+@(sha256:[0-9a-f]{64})$")
SERVICE_DIRS: Final = {
    "broker": "broker",
    "gateway": "gateway",
    "outbox-drainer": "outbox-drainer",
    "compactor": "compactor",
    "worker": "partitioned-worker",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


def test_runs_the_whole_stack(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {*PORT_VARIABLES, "mongo", "prometheus", "grafana"}


def test_pulled_images_are_pinned_by_recorded_digests(compose: dict[str, Any]) -> None:
    matrix = MATRIX.read_text(encoding="utf-8")
    for name, service in compose["services"].items():
        if "build" in service:
            continue
        match = PINNED_RE.match(service["image"])
        assert match, f"{name}: {service['image']} is not pinned by tag and digest"
        assert match[1] in matrix, f"{name}: digest not in VERSION_MATRIX.md"


def test_mongo_is_the_workflow_image_as_a_replica_set(compose: dict[str, Any]) -> None:
    workflow = (ROOT / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    mongo = compose["services"]["mongo"]
    assert mongo["image"] in workflow
    assert mongo["command"][:2] == ["--replSet", "rs0"]
    assert "rs.initiate" in " ".join(mongo["healthcheck"]["test"])


@pytest.mark.parametrize("name", list(PORT_VARIABLES))
def test_service_is_built_configured_and_checked(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    assert service["build"] == {
        "context": "../..",
        "dockerfile": "Dockerfile",
        "target": SERVICE_DIRS[name],
    }
    assert (COMPOSE_DIR / "../.." / service["build"]["dockerfile"]).resolve().is_file()
    env = service["environment"]
    unread = sorted(set(env) - read_variables(name))
    assert not unread, f"{name} never reads {unread}"
    port = env[PORT_VARIABLES[name]]
    assert f"http://127.0.0.1:{port}/healthz/ready" in " ".join(service["healthcheck"]["test"])
    assert env["PROMETHEAN_BROKER_TOKEN"].startswith("${PROMETHEAN_BROKER_TOKEN")
    if name != "broker":
        assert env["BUS_URL"] == "ws://broker:7070/ws"
        assert service["depends_on"]["broker"] == {"condition": "service_healthy"}
    if "MONGO_URL" in env:
        assert env["MONGO_URL"] == "mongodb://mongo:27017/?replicaSet=rs0"


def test_prometheus_scrapes_every_service_on_its_port(compose: dict[str, Any]) -> None:
    config = yaml.safe_load((COMPOSE_DIR / "prometheus.yml").read_text(encoding="utf-8"))
    targets = {
        target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    expected = {
        f"{name}:{compose['services'][name]['environment'][variable]}"
        for name, variable in PORT_VARIABLES.items()
    }
    assert targets == expected


def test_mounted_files_exist(compose: dict[str, Any]) -> None:
    for name in ("prometheus", "grafana"):
        for volume in compose["services"][name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE_DIR / source).exists(), f"{name}: {source}"


def test_promtool_accepts_the_prometheus_config(tmp_path: Path) -> None:
    text = (COMPOSE_DIR / "prometheus.yml").read_text(encoding="utf-8")
    alerts = ROOT / "deploy" / "helm" / "files" / "alerts.yaml"
    local = tmp_path / "prometheus.yml"
    local.write_text(text.replace("/etc/prometheus/rules/promethean.yaml", str(alerts)))
    check_rules(alerts)
    result = subprocess.run(
        [promtool(), "check", "config", str(local)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
