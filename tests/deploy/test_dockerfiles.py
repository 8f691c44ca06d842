"""One Dockerfile at the repository root builds every service, one target
per service: multi-stage, base pinned by a digest VERSION_MATRIX.md records,
a dependency layer that depends on the lockfile and project files only (not
on any service's source), `uv sync --frozen --no-dev` at the uv version of
the repository, a non-root user, no HEALTHCHECK (Kubernetes probes), OCI
labels, and per target the console script as ENTRYPOINT and the port the
chart uses exposed."""

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

DOCKERFILE: Final = ROOT / "Dockerfile"
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
OCI_LABELS: Final = ("title", "version", "revision", "source")

Instruction = tuple[str, str]


@dataclass(frozen=True)
class Stage:
    name: str
    base: str
    instructions: list[Instruction]

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse(path: Path) -> list[Instruction]:
    """(KEYWORD, arguments) per instruction, continuation lines joined."""
    instructions: list[Instruction] = []
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


def stages(instructions: list[Instruction]) -> dict[str, Stage]:
    found: dict[str, Stage] = {}
    current: Stage | None = None
    for keyword, args in instructions:
        if keyword == "FROM":
            match = FROM_RE.match(f"FROM {args}")
            assert match is not None, args
            current = Stage(match["stage"] or f"stage{len(found)}", match["image"], [])
            found[current.name] = current
        elif current is not None:
            current.instructions.append((keyword, args))
    return found


def chain(all_stages: dict[str, Stage], name: str) -> list[Stage]:
    """The stage and the stages it is built FROM, nearest first."""
    result = [all_stages[name]]
    while result[-1].base in all_stages:
        result.append(all_stages[result[-1].base])
    return result


def project(service: Path) -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads((service / "pyproject.toml").read_text(encoding="utf-8"))
    return data["project"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def built() -> dict[str, Stage]:
    assert DOCKERFILE.is_file(), "no Dockerfile at the repository root"
    return stages(parse(DOCKERFILE))


def test_the_five_per_service_dockerfiles_are_gone() -> None:
    assert not list((ROOT / "services").glob("*/Dockerfile*"))


def test_there_is_a_target_for_every_chart_component(built: dict[str, Stage]) -> None:
    assert {p.name for p in SERVICES} == set(VALUES_KEYS)
    assert set(VALUES_KEYS) <= set(built)


def test_base_images_are_pinned_by_a_recorded_digest(built: dict[str, Stage]) -> None:
    matrix = MATRIX.read_text(encoding="utf-8")
    external = [stage.base for stage in built.values() if stage.base not in built]
    assert len(external) >= 2, "a multi-stage build: build stage and a runtime stage"
    for image in external:
        pinned = PINNED_RE.match(image)
        assert pinned, f"{image} is not pinned by tag and digest"
        assert pinned["digest"] in matrix, f"{pinned['digest']} is not in VERSION_MATRIX.md"
        assert f"`{pinned['name']}`" in matrix
        assert f"`{pinned['tag']}`" in matrix


def test_dependencies_are_cached_per_lockfile(built: dict[str, Stage]) -> None:
    """The first `uv sync` installs third-party packages only, after COPY
    of uv.lock and project files and before any source is copied."""
    build = built["build"]
    syncs = [i for i, (kw, args) in enumerate(build.instructions) if "uv sync" in args]
    assert len(syncs) == 2, build.instructions
    deps, full = (build.instructions[i][1].split() for i in syncs)
    for flags in (deps, full):
        assert {"--frozen", "--no-dev", "--no-editable", "--all-packages"} <= set(flags)
    assert "--no-install-workspace" in deps
    copied_before = [args for kw, args in build.instructions[: syncs[0]] if kw == "COPY"]
    sources = [c.split()[0] for c in copied_before]
    assert "uv.lock" in " ".join(copied_before)
    assert all(s in {"pyproject.toml"} or s.endswith("pyproject.toml") for s in sources), sources
    for service in SERVICES:
        assert any(f"services/{service.name}/pyproject.toml" in c for c in copied_before), service
    copied_after = " ".join(args for kw, args in build.instructions[syncs[0] :] if kw == "COPY")
    assert "libs/" in copied_after
    assert "services/" in copied_after


def test_uv_is_the_version_the_repository_uses(built: dict[str, Stage]) -> None:
    match = UV_VERSION_RE.search((ROOT / "scripts" / "dev.sh").read_text(encoding="utf-8"))
    assert match is not None
    installs = [args for args in built["build"].all("RUN") if "pip install" in args]
    assert any(f"uv=={match['version']}" in args for args in installs), installs


@pytest.mark.parametrize("service", SERVICES, ids=lambda p: p.name)
def test_target_runs_the_service_as_non_root(built: dict[str, Stage], service: Path) -> None:
    stack = chain(built, service.name)
    users = [args for stage in stack for args in stage.all("USER")]
    assert users, "the target sets no USER"
    uid, _, gid = users[0].partition(":")
    assert uid.isdigit(), "USER must be a numeric uid (runAsNonRoot needs one)"
    assert int(uid) > 0, "USER must not be root"
    assert not gid or (gid.isdigit() and int(gid) > 0)
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text(encoding="utf-8"))
    assert values["podSecurityContext"]["runAsUser"] == int(uid)
    assert not any(stage.all("HEALTHCHECK") for stage in stack)


@pytest.mark.parametrize("service", SERVICES, ids=lambda p: p.name)
def test_target_entrypoint_port_and_labels(built: dict[str, Stage], service: Path) -> None:
    stage = built[service.name]
    [entrypoint] = stage.all("ENTRYPOINT")
    argv = json.loads(entrypoint)
    scripts = project(service)["scripts"]
    assert Path(argv[0]).name in scripts, (argv, scripts)
    assert len(argv) == 1
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text(encoding="utf-8"))
    assert stage.all("EXPOSE") == [str(values[VALUES_KEYS[service.name]]["port"])]
    labels = " ".join(args for s in chain(built, service.name) for args in s.all("LABEL"))
    for label in OCI_LABELS:
        assert f"org.opencontainers.image.{label}=" in labels, label
    assert f'org.opencontainers.image.title="promethean-{service.name}"' in labels


def test_build_context_ignores_local_state() -> None:
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8")
    lines = {line.strip() for line in ignore.splitlines()}
    assert "**" in lines
    assert "!uv.lock" in lines
    assert "**/.promethean/" in lines


def test_parser_joins_continuations(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("# c\nFROM a:1@sha256:" + "0" * 64 + " AS b\nRUN x \\\n    y\n")
    assert parse(path) == [("FROM", "a:1@sha256:" + "0" * 64 + " AS b"), ("RUN", "x y")]
    assert stages(parse(path))["b"].all("RUN") == ["x y"]
