"""The kind workflow cannot run here; check what can be checked: its shell
steps parse, it builds every service image, and the files, images, names and
smoke commands it relies on exist and agree with the chart."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from tests.deploy.chart import ROOT, component_workload, render

WORKFLOW: Final = ROOT / ".github" / "workflows" / "e2e-kind.yml"


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return loaded


def run_blocks(workflow: dict[str, Any]) -> list[str]:
    return [step["run"] for step in workflow["jobs"]["kind"]["steps"] if "run" in step]


def test_every_shell_step_parses(workflow: dict[str, Any], tmp_path: Path) -> None:
    for index, script in enumerate(run_blocks(workflow)):
        path = tmp_path / f"step{index}.sh"
        path.write_text(script, encoding="utf-8")
        result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, f"{script}\n{result.stderr}"


def test_builds_and_loads_every_service_image(workflow: dict[str, Any]) -> None:
    services = {p.parent.name for p in (ROOT / "services").glob("*/Dockerfile")}
    text = "\n".join(run_blocks(workflow))
    loops = re.findall(r"for service in ([a-z -]+); do", text)
    assert len(loops) == 2
    for loop in loops:
        assert set(loop.split()) == services


def test_uses_the_pinned_mongo_image_of_ci(workflow: dict[str, Any]) -> None:
    ci = (ROOT / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    image = workflow["env"]["MONGO_IMAGE"]
    assert image in ci
    manifest = (ROOT / "deploy" / "e2e" / "mongodb.yaml").read_text(encoding="utf-8")
    assert f"image: {image}" in manifest


def test_referenced_files_exist(workflow: dict[str, Any]) -> None:
    text = "\n".join(run_blocks(workflow))
    for path in set(re.findall(r"deploy/[A-Za-z0-9_./-]+", text)):
        assert (ROOT / path).exists(), path


def test_names_match_what_the_chart_renders(workflow: dict[str, Any]) -> None:
    text = "\n".join(run_blocks(workflow))
    manifests = render()
    names = {m["metadata"]["name"] for m in manifests}
    for name in set(re.findall(r"(?:svc|deployment|statefulset)/(promethean-[a-z-]+)", text)):
        assert name in names, name
    assert component_workload(manifests, "worker")["metadata"]["name"] == "promethean-worker"
    assert workflow["env"]["RELEASE"] == "promethean"


def test_scales_one_three_two(workflow: dict[str, Any]) -> None:
    text = "\n".join(run_blocks(workflow))
    scales = re.findall(r"scale statefulset/promethean-worker --replicas=(\d)", text)
    assert scales == ["3", "2"]
    assert "worker: {image: {tag: $IMAGE_TAG}, replicas: 1}" in text
    owned = re.findall(r"smoke\.py ownership --members (\d)", text)
    assert owned[:3] == ["1", "3", "2"]
    assert "consume --batches b1,b2,b3" in text
