"""Every service has a Dockerfile that builds it from the locked workspace:
multi-stage, base pinned by a digest VERSION_MATRIX.md records, `uv sync
--frozen --no-dev --package <service>`, a non-root user, no HEALTHCHECK
(Kubernetes probes), the console script as ENTRYPOINT and the port the chart
uses exposed."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from tests.deploy.chart import CHART_DIR, ROOT

MATRIX: Final = ROOT / "VERSION_MATRIX.md"
SERVICES: Final = sorted(p.parent for p in (ROOT / "services").glob("*/pyproject.toml"))
FROM_RE: Final = re.compile(r"^FROM\s+(?P<image>\S+)(?:\s+AS\s+(?P<stage>\S+))?\s*$", re.I)
PINNED_RE: Final = re.compile(
    r"^(?P<name>[a-z0-9./-]+):(?P<tag>[A-Za-z0-9_.-]+)@(?P<digest>sha256:[0-9a-f]{64})$"
)
UV_VERSION_RE: Final = re.compile(r'^UV_VERSION="(?P<version>[^"]+)"', re.M)
VALUES_KEYS: Final = {
    "broker": "broker",
    "gateway": "gateway",
    "outbox-drainer": "outboxDrainer",
    "compactor": "compactor",
    "partitioned-worker": "worker",
}


@dataclass(frozen=True)
class Dockerfile:
    service: Path
    instructions: list[tuple[str, str]]

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def final_stage(self) -> list[tuple[str, str]]:
        starts = [i for i, (kw, _) in enumerate(self.instructions) if kw == "FROM"]
        return self.instructions[starts[-1] :]


def parse(path: Path) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    return instructions


def project(service: Path) -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads((service / "pyproject.toml").read_text(encoding="utf-8"))
    return data["project"]  # type: ignore[no-any-return]


@pytest.fixture(params=SERVICES, ids=lambda p: p.name)
def dockerfile(request: pytest.FixtureRequest) -> Dockerfile:
    service: Path = request.param
    path = service / "Dockerfile"
    assert path.is_file(), f"{service.name} has no Dockerfile"
    return Dockerfile(service, parse(path))


def test_there_is_a_service_for_every_chart_component() -> None:
    assert {p.name for p in SERVICES} == set(VALUES_KEYS)


def test_base_images_are_pinned_by_a_recorded_digest(dockerfile: Dockerfile) -> None:
    matrix = MATRIX.read_text(encoding="utf-8")
    stages: set[str] = set()
    froms = dockerfile.all("FROM")
    assert len(froms) >= 2, "a multi-stage build: build stage and a runtime stage"
    for args in froms:
        match = FROM_RE.match(f"FROM {args}")
        assert match is not None, args
        image = match["image"]
        if image not in stages:
            pinned = PINNED_RE.match(image)
            assert pinned, f"{image} is not pinned by tag and digest"
            assert pinned["digest"] in matrix, f"{pinned['digest']} is not in VERSION_MATRIX.md"
            assert f"`{pinned['name']}`" in matrix
            assert f"`{pinned['tag']}`" in matrix
        if match["stage"]:
            stages.add(match["stage"])


def test_installs_the_service_from_the_lockfile(dockerfile: Dockerfile) -> None:
    name = project(dockerfile.service)["name"]
    syncs = [args for args in dockerfile.all("RUN") if "uv sync" in args]
    assert len(syncs) == 1, syncs
    flags = syncs[0].split()
    assert {"--frozen", "--no-dev", "--no-editable"} <= set(flags)
    assert flags[flags.index("--package") + 1] == name
    copies = " ".join(dockerfile.all("COPY"))
    assert "uv.lock" in copies
    assert "pyproject.toml" in copies


def test_uv_is_the_version_the_repository_uses(dockerfile: Dockerfile) -> None:
    match = UV_VERSION_RE.search((ROOT / "scripts" / "dev.sh").read_text(encoding="utf-8"))
    assert match is not None
    installs = [args for args in dockerfile.all("RUN") if "pip install" in args]
    assert any(f"uv=={match['version']}" in args for args in installs), installs


def test_runs_as_a_non_root_user(dockerfile: Dockerfile) -> None:
    users = [args for kw, args in dockerfile.final_stage() if kw == "USER"]
    assert users, "the runtime stage sets no USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit(), "USER must be a numeric uid (runAsNonRoot needs one)"
    assert int(uid) > 0, "USER must not be root"
    assert not gid or (gid.isdigit() and int(gid) > 0)
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text(encoding="utf-8"))
    assert values["podSecurityContext"]["runAsUser"] == int(uid)


def test_has_no_healthcheck(dockerfile: Dockerfile) -> None:
    assert not dockerfile.all("HEALTHCHECK"), "Kubernetes probes /healthz/*; no HEALTHCHECK"


def test_entrypoint_is_the_console_script(dockerfile: Dockerfile) -> None:
    [entrypoint] = [args for kw, args in dockerfile.final_stage() if kw == "ENTRYPOINT"]
    argv = json.loads(entrypoint)
    scripts = project(dockerfile.service)["scripts"]
    assert Path(argv[0]).name in scripts, (argv, scripts)
    assert len(argv) == 1


def test_exposes_the_port_the_chart_uses(dockerfile: Dockerfile) -> None:
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text(encoding="utf-8"))
    port = values[VALUES_KEYS[dockerfile.service.name]]["port"]
    assert dockerfile.all("EXPOSE") == [str(port)]


def test_build_context_ignores_local_state(dockerfile: Dockerfile) -> None:
    ignore = (dockerfile.service / "Dockerfile.dockerignore").read_text(encoding="utf-8")
    lines = {line.strip() for line in ignore.splitlines()}
    assert "**" in lines
    assert "!uv.lock" in lines
    assert "**/.promethean/" in lines


def test_parser_joins_continuations(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("# c\nFROM a:1@sha256:" + "0" * 64 + " AS b\nRUN x \\\n    y\n")
    assert parse(path) == [("FROM", "a:1@sha256:" + "0" * 64 + " AS b"), ("RUN", "x y")]
