"""The kind and release workflows cannot run here; check what can be
checked: their shell steps and scripts/kind-up.sh parse, the e2e workflow
sets the cluster up with scripts/kind-up.sh and runs `helm test` and the
release workflow (without publishing), kind-up builds and loads every
Dockerfile target, the release workflow builds, signs and pins all five
images, and the names, files and smoke commands agree with the chart."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from tests.deploy.chart import ROOT, component_workload, named, pod_spec, render

WORKFLOWS: Final = ROOT / ".github" / "workflows"
KIND_UP: Final = ROOT / "scripts" / "kind-up.sh"
SERVICES: Final = {"broker", "gateway", "outbox-drainer", "compactor", "partitioned-worker"}


def load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return load("e2e-kind.yml")


@pytest.fixture(scope="module")
def release() -> dict[str, Any]:
    return load("release.yml")


def run_blocks(workflow: dict[str, Any], job: str) -> list[str]:
    return [step["run"] for step in workflow["jobs"][job]["steps"] if "run" in step]


def bash_parses(script: str, path: Path) -> None:
    path.write_text(script, encoding="utf-8")
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, f"{script}\n{result.stderr}"


def test_every_shell_step_parses(
    workflow: dict[str, Any], release: dict[str, Any], tmp_path: Path
) -> None:
    blocks = [
        *run_blocks(workflow, "kind"),
        *run_blocks(release, "images"),
        *run_blocks(release, "pin"),
    ]
    for index, script in enumerate(blocks):
        bash_parses(script, tmp_path / f"step{index}.sh")
    bash_parses(KIND_UP.read_text(encoding="utf-8"), tmp_path / "kind-up.sh")


def test_e2e_sets_up_with_kind_up_and_runs_helm_test(workflow: dict[str, Any]) -> None:
    text = "\n".join(run_blocks(workflow, "kind"))
    assert "bash scripts/kind-up.sh" in text
    assert 'helm test "$RELEASE"' in text
    assert text.index("kind-up.sh") < text.index("helm test")
    kind_action = [
        s for s in workflow["jobs"]["kind"]["steps"] if "kind-action" in s.get("uses", "")
    ]
    assert kind_action[0]["with"]["install_only"] is True, "kind-up.sh creates the cluster"


def test_e2e_runs_the_release_workflow_without_publishing(workflow: dict[str, Any]) -> None:
    job = workflow["jobs"]["release-dry-run"]
    assert job["uses"] == "./.github/workflows/release.yml"
    assert job["with"] == {"publish": False}


def test_kind_up_builds_and_loads_every_dockerfile_target() -> None:
    script = KIND_UP.read_text(encoding="utf-8")
    [services] = re.findall(r"^SERVICES=\(([a-z -]+)\)$", script, re.M)
    assert set(services.split()) == SERVICES
    targets = set(re.findall(r"^FROM \S+ AS (\S+)$", (ROOT / "Dockerfile").read_text(), re.M))
    assert targets >= SERVICES
    assert 'docker build --target "$service"' in script
    assert 'kind load docker-image --name "$CLUSTER"' in script
    assert "helm upgrade --install" in script
    values = yaml.safe_load((ROOT / "deploy/helm/values.yaml").read_text())
    [registry] = re.findall(r'^REGISTRY="([^"]+)"$', script, re.M)
    assert registry == values["image"]["registry"]


def test_kind_node_image_is_pinned_and_recorded() -> None:
    script = KIND_UP.read_text(encoding="utf-8")
    [image] = re.findall(r'^KIND_NODE_IMAGE="([^"]+)"$', script, re.M)
    assert re.fullmatch(r"kindest/node:v[0-9.]+@sha256:[0-9a-f]{64}", image)
    assert image.split("@")[1] in (ROOT / "VERSION_MATRIX.md").read_text()


def test_the_chart_mongo_image_is_the_one_ci_tests() -> None:
    ci = (WORKFLOWS / "ci.yml").read_text(encoding="utf-8")
    mongodb = named(render(), "StatefulSet", "promethean-mongodb")
    image = pod_spec(mongodb)["containers"][0]["image"]
    assert image.removeprefix("docker.io/library/") in ci


def test_release_builds_signs_and_pins_every_image(release: dict[str, Any]) -> None:
    triggers = release[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["push"]["tags"] == ["v*.*.*"]
    assert triggers["workflow_call"]["inputs"]["publish"]["default"] is False
    images = release["jobs"]["images"]
    assert set(images["strategy"]["matrix"]["service"]) == SERVICES
    assert images["permissions"]["id-token"] == "write"
    [build] = [s for s in images["steps"] if "build-push-action" in s.get("uses", "")]
    assert build["with"]["target"] == "${{ matrix.service }}"
    assert build["with"]["platforms"] == "linux/amd64,linux/arm64"
    assert build["with"]["sbom"] is True
    assert build["with"]["file"] == "Dockerfile"
    signing = "\n".join(run_blocks(release, "images"))
    assert 'cosign sign --yes "$REF"' in signing
    pin = "\n".join(run_blocks(release, "pin"))
    assert "scripts/release_pin.py" in pin
    [loop] = re.findall(r"for service in ([a-z -]+); do", pin)
    assert set(loop.split()) == SERVICES
    [pr] = [
        s for s in release["jobs"]["pin"]["steps"] if "create-pull-request" in s.get("uses", "")
    ]
    assert "deploy/helm/values.yaml" in pr["with"]["add-paths"]
    assert "VERSION_MATRIX.md" in pr["with"]["add-paths"]


def test_referenced_files_exist(workflow: dict[str, Any]) -> None:
    text = "\n".join(run_blocks(workflow, "kind")) + KIND_UP.read_text(encoding="utf-8")
    for path in set(re.findall(r"(?:deploy|scripts)/[A-Za-z0-9_./-]+", text)):
        assert (ROOT / path).exists(), path


def test_names_match_what_the_chart_renders(workflow: dict[str, Any]) -> None:
    text = "\n".join(run_blocks(workflow, "kind"))
    manifests = render()
    names = {m["metadata"]["name"] for m in manifests}
    for name in set(re.findall(r"(?:svc|deployment|statefulset)/(promethean-[a-z-]+)", text)):
        assert name in names, name
    assert component_workload(manifests, "worker")["metadata"]["name"] == "promethean-worker"
    assert workflow["env"]["RELEASE"] == "promethean"


def test_scales_one_three_two(workflow: dict[str, Any]) -> None:
    text = "\n".join(run_blocks(workflow, "kind"))
    scales = re.findall(r"scale statefulset/promethean-worker --replicas=(\d)", text)
    assert scales == ["3", "2"]
    assert "worker: {replicas: 1}" in text
    owned = re.findall(r"smoke\.py ownership --members (\d)", text)
    assert owned[:3] == ["1", "3", "2"]
    assert "consume --batches b1,b2,b3" in text


def heredoc(text: str, marker: str) -> list[str]:
    """The bodies of the ``<<'MARKER'`` here-documents of a shell step."""
    return re.findall(rf"<<'{marker}'[^\n]*\n(.*?)\n{marker}\n", text, re.S)


def test_scales_the_brokers_two_three_two(workflow: dict[str, Any]) -> None:
    text = "\n".join(run_blocks(workflow, "kind"))
    assert named(render(), "StatefulSet", "promethean-broker")["spec"]["replicas"] == 2
    scales = re.findall(r"scale statefulset/promethean-broker --replicas=(\d)", text)
    assert scales == ["3", "2"]
    rollouts = text.count("rollout status statefulset/promethean-broker")
    assert rollouts >= 3, "each broker scale (and the killed pod) waits for the rollout"
    owned = re.findall(r'brokers-own\.sh" (\d)', text)
    assert owned[:3] == ["2", "3", "2"]
    assert text.index("--replicas=3\n") < text.index('brokers-own.sh" 3')


def test_every_published_batch_is_read_back_at_the_end(workflow: dict[str, Any]) -> None:
    text = "\n".join(run_blocks(workflow, "kind"))
    published = re.findall(r"smoke\.py publish --batch (\w+)", text)
    consumes = re.findall(r"smoke\.py consume --batches ([\w,]+)", text)
    assert set(consumes[-1].split(",")) == set(published)
    assert {"b4", "b5"} <= set(published), "batches published with three and then two brokers"


def test_broker_helper_scripts_parse(workflow: dict[str, Any], tmp_path: Path) -> None:
    text = "\n".join(run_blocks(workflow, "kind"))
    scripts = heredoc(text, "SCRIPT")
    assert len(scripts) == 2
    for index, script in enumerate(scripts):
        bash_parses(script, tmp_path / f"helper{index}.sh")


@pytest.mark.parametrize(
    ("metrics", "want", "ok"),
    [
        ({"promethean-broker-0": 6, "promethean-broker-1": 6, "promethean-broker-2": 6}, 3, True),
        ({"promethean-broker-0": 9, "promethean-broker-1": 9, "promethean-broker-2": 0}, 3, False),
        ({"promethean-broker-0": 9, "promethean-broker-1": 9}, 3, False),
        ({"promethean-broker-0": 9, "promethean-broker-1": 9, "promethean-broker-2": 1}, 2, False),
    ],
)
def test_broker_ownership_check_reads_partitions_owned(
    workflow: dict[str, Any], tmp_path: Path, metrics: dict[str, int], want: int, ok: bool
) -> None:
    """The check the workflow runs on the brokers' /metrics: every broker
    of the StatefulSet, and no other, owns at least one partition."""
    [check] = heredoc("\n".join(run_blocks(workflow, "kind")), "PY")
    exposition = tmp_path / "metrics.txt"
    exposition.write_text(
        "# TYPE promethean_partitions_owned gauge\n"
        + "".join(
            f'promethean_partitions_owned{{broker="{broker}"}} {float(count)}\n'
            for broker, count in metrics.items()
        )
        + "promethean_publish_queue 0.0\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        ["python3", "-", str(want), str(exposition)],
        input=check,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode == 0) is ok, result.stdout + result.stderr
    assert "partitions owned per broker" in result.stdout


def test_kind_up_waits_for_every_broker() -> None:
    script = KIND_UP.read_text(encoding="utf-8")
    assert 'rollout status "statefulset/$broker_statefulset"' in script
    assert "app.kubernetes.io/component=broker" in script
