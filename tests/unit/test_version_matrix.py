"""VERSION_MATRIX.md agrees with uv.lock and with the GitHub workflows.

Every direct dependency of every workspace package (and of its dependency
groups) must appear in the matrix's Python table at exactly its locked
version, and nothing else may; every action a workflow uses must be pinned by
a full commit SHA that the matrix records, and every image digest likewise.
"""

from __future__ import annotations

import re
import tomllib
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "uv.lock"
MATRIX = ROOT / "VERSION_MATRIX.md"
WORKFLOWS = ROOT / ".github" / "workflows"
PYTHON_SECTION = "## Python packages"

ROW_RE = re.compile(
    r"^\|\s*`?(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)`?\s*\|\s*(?P<version>[^|]+?)\s*\|"
)
USES_RE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)", re.MULTILINE)
SHA_RE = re.compile(r"[0-9a-f]{40}")
DIGEST_RE = re.compile(r"@sha256:[0-9a-f]{64}")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_direct_dependencies(lock: dict[str, Any]) -> dict[str, set[str]]:
    """Name → locked versions of every registry package a workspace member names."""
    packages: list[dict[str, Any]] = lock["package"]
    members = {normalize(p["name"]) for p in packages if {"editable", "virtual"} & set(p["source"])}
    versions: dict[str, set[str]] = defaultdict(set)
    for package in packages:
        versions[normalize(package["name"])].add(package["version"])
    direct: dict[str, set[str]] = defaultdict(set)
    for package in packages:
        if normalize(package["name"]) not in members:
            continue
        entries = list(package.get("dependencies", []))
        for group in package.get("dev-dependencies", {}).values():
            entries.extend(group)
        for entry in entries:
            name = normalize(entry["name"])
            if name in members:
                continue
            direct[name] |= {entry["version"]} if "version" in entry else versions[name]
    return dict(direct)


def matrix_python_rows(text: str) -> dict[str, set[str]]:
    """Name → versions listed in the matrix's Python table (comma-separated cells)."""
    section = text.split(PYTHON_SECTION, 1)[1].split("\n## ", 1)[0]
    rows: dict[str, set[str]] = {}
    for line in section.splitlines():
        match = ROW_RE.match(line)
        if match is None or set(match["version"]) <= {"-", ":", " "}:
            continue
        if match["name"].lower() in {"package", "name"}:
            continue
        rows[normalize(match["name"])] = {
            v.strip().strip("`") for v in match["version"].split(",") if v.strip()
        }
    return rows


@pytest.fixture(scope="module")
def matrix_text() -> str:
    return MATRIX.read_text(encoding="utf-8")


def test_matrix_has_a_python_packages_table(matrix_text: str) -> None:
    assert PYTHON_SECTION in matrix_text
    assert matrix_python_rows(matrix_text), "the Python table has no rows"


def test_every_locked_direct_dependency_is_listed_at_its_version(matrix_text: str) -> None:
    locked = locked_direct_dependencies(tomllib.loads(LOCK.read_text(encoding="utf-8")))
    listed = matrix_python_rows(matrix_text)
    assert locked, "uv.lock names no direct dependency"
    missing = sorted(set(locked) - set(listed))
    wrong = {
        name: (sorted(listed[name]), sorted(locked[name]))
        for name in set(locked) & set(listed)
        if listed[name] != locked[name]
    }
    stale = sorted(set(listed) - set(locked))
    assert not missing, f"VERSION_MATRIX.md lacks locked direct dependencies: {missing}"
    assert not wrong, f"VERSION_MATRIX.md versions differ from uv.lock (listed, locked): {wrong}"
    assert not stale, f"VERSION_MATRIX.md lists packages that are not direct dependencies: {stale}"


def workflow_files() -> list[Path]:
    return sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])


def test_there_is_a_workflow() -> None:
    assert workflow_files(), "no workflow under .github/workflows"


@pytest.mark.parametrize("workflow", workflow_files(), ids=lambda path: path.name)
def test_every_action_is_pinned_by_a_recorded_sha(workflow: Path, matrix_text: str) -> None:
    refs = USES_RE.findall(workflow.read_text(encoding="utf-8"))
    assert refs, f"{workflow.name} uses no action"
    for ref in refs:
        action, _, version = ref.partition("@")
        if action.startswith(("./", "docker://")):
            continue
        assert SHA_RE.fullmatch(version), f"{ref} is not pinned by a 40-hex commit SHA"
        assert version in matrix_text, f"{ref}: SHA not recorded in VERSION_MATRIX.md"
        assert action in matrix_text, f"{action} not named in VERSION_MATRIX.md"


@pytest.mark.parametrize("workflow", workflow_files(), ids=lambda path: path.name)
def test_every_image_digest_is_recorded(workflow: Path, matrix_text: str) -> None:
    for digest in DIGEST_RE.findall(workflow.read_text(encoding="utf-8")):
        assert digest.removeprefix("@") in matrix_text, f"{digest} not in VERSION_MATRIX.md"


def test_row_parser_reads_names_and_versions() -> None:
    text = "\n".join(
        [
            PYTHON_SECTION,
            "| Package | Version |",
            "|---|---|",
            "| `a_b` | 1.0, 2.0 |",
            "## Next",
            "| c | 3 |",
        ]
    )
    assert matrix_python_rows(text) == {"a-b": {"1.0", "2.0"}}


def test_lock_reader_follows_workspace_members_and_groups() -> None:
    lock = {
        "package": [
            {
                "name": "app",
                "version": "0.1.0",
                "source": {"virtual": "."},
                "dependencies": [{"name": "lib"}],
                "dev-dependencies": {"dev": [{"name": "Py_Test"}]},
            },
            {
                "name": "lib",
                "version": "0.1.0",
                "source": {"editable": "lib"},
                "dependencies": [{"name": "yarl", "version": "1.2.0", "marker": "x"}],
            },
            {"name": "py-test", "version": "9.0", "source": {"registry": "r"}},
            {"name": "yarl", "version": "1.2.0", "source": {"registry": "r"}},
            {"name": "yarl", "version": "1.3.0", "source": {"registry": "r"}},
            {"name": "transitive", "version": "5", "source": {"registry": "r"}},
        ]
    }
    assert locked_direct_dependencies(lock) == {"py-test": {"9.0"}, "yarl": {"1.2.0"}}
