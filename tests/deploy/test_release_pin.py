"""scripts/release_pin.py, which the release workflow runs before opening
its pull request: on a copy of the chart and VERSION_MATRIX.md it pins the
five images by digest, the chart then renders only pinned images (with
requireDigest on), and bad input changes nothing."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any, Final

import helm_python
import pytest
import yaml

from tests.deploy.chart import CHART_DIR, ROOT, containers, render

sys.path.insert(0, str(ROOT / "scripts"))
import release_pin

REGISTRY: Final = "ghcr.io/example-org"
DIGESTS: Final = {
    service: "sha256:" + f"{index:x}" * 64 for index, service in enumerate(release_pin.SERVICES, 1)
}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(CHART_DIR, tmp_path / "deploy" / "helm")
    shutil.copy(ROOT / "VERSION_MATRIX.md", tmp_path / "VERSION_MATRIX.md")
    return tmp_path


def run(tree: Path, *extra: str, digests: dict[str, str] = DIGESTS) -> int:
    argv = ["--version", "1.2.3", "--registry", REGISTRY, *extra]
    argv += [f"--digest={service}={digest}" for service, digest in digests.items()]
    return release_pin.main(argv, root=tree)


def render_tree(tree: Path) -> list[dict[str, Any]]:
    with helm_python.Chart.load(tree / "deploy" / "helm") as chart:
        files = chart.render({}, name="promethean", namespace="bus", is_install=True)
    return [
        doc
        for path, text in files.items()
        if not path.endswith(".txt")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def test_pins_every_image_and_the_chart_renders_them(tree: Path) -> None:
    assert run(tree) == 0
    values = yaml.safe_load((tree / "deploy/helm/values.yaml").read_text())
    assert values["image"]["registry"] == REGISTRY
    assert values["image"]["requireDigest"] is True
    chart = yaml.safe_load((tree / "deploy/helm/Chart.yaml").read_text())
    assert chart["version"] == "1.2.3"
    assert chart["appVersion"] == "1.2.3"
    images = {c.spec["image"] for c in containers(render_tree(tree))}
    for service, digest in DIGESTS.items():
        assert f"{REGISTRY}/{service}:1.2.3@{digest}" in images
    matrix = (tree / "VERSION_MATRIX.md").read_text()
    for service, digest in DIGESTS.items():
        assert f"| `{REGISTRY}/{service}` | `1.2.3` | `{digest}` |" in matrix


def test_pinning_again_replaces_the_table(tree: Path) -> None:
    assert run(tree) == 0
    newer = {service: "sha256:" + "e" * 64 for service in DIGESTS}
    assert run(tree, digests=newer) == 0
    matrix = (tree / "VERSION_MATRIX.md").read_text()
    assert matrix.count(release_pin.SECTION) == 1
    assert DIGESTS["broker"] not in matrix
    assert "## Python packages" in matrix


def test_the_rest_of_values_is_untouched(tree: Path) -> None:
    before = yaml.safe_load((tree / "deploy/helm/values.yaml").read_text())
    assert run(tree) == 0
    after = yaml.safe_load((tree / "deploy/helm/values.yaml").read_text())
    for key in ("image", *release_pin.SERVICES.values()):
        before.pop(key)
        after.pop(key)
    assert before == after


@pytest.mark.parametrize(
    ("digests", "extra", "message"),
    [
        ({**DIGESTS, "broker": "sha256:abc"}, (), "not sha256"),
        ({k: v for k, v in DIGESTS.items() if k != "gateway"}, (), "no digest for gateway"),
        ({**DIGESTS, "console": DIGESTS["broker"]}, (), "unknown service"),
        (DIGESTS, ("--version", "v1"), "not a semantic version"),
    ],
)
def test_bad_input_changes_nothing(
    tree: Path,
    digests: dict[str, str],
    extra: tuple[str, ...],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    values = (tree / "deploy/helm/values.yaml").read_text()
    assert run(tree, *extra, digests=digests) == 2
    assert message in capsys.readouterr().err
    assert (tree / "deploy/helm/values.yaml").read_text() == values


def test_the_shipped_chart_is_not_pinned_yet() -> None:
    """Until the first release PR merges, the defaults name the GHCR
    repositories without digests (requireDigest off)."""
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    assert values["image"]["requireDigest"] is False
    assert render()
