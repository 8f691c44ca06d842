"""The import layers: the contracts in pyproject.toml hold, list no exception,
and a deliberate violation is caught.

Each check runs import-linter in a child process, so that a violation can be
planted in a copy of the sources put first on its ``PYTHONPATH`` without
touching the installed packages. docs/architecture.md explains the layers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
SOURCE_DIRS = [ROOT / "libs" / "promethean" / "src", *sorted(ROOT.glob("services/*/src"))]
LINT = (
    "import sys\n"
    "from importlinter.cli import lint_imports\n"
    "sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True, no_logo=True))\n"
)
CHILD_TIMEOUT_S = 60


def contracts() -> list[dict[str, Any]]:
    config = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    return found


def lint_imports(pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [sys.executable, "-c", LINT, str(PYPROJECT)],
        capture_output=True,
        text=True,
        env=env,
        cwd=pythonpath or ROOT,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )


def copy_sources(target: Path) -> Path:
    """Every package of the library and the services, .py files only, under one folder."""

    def not_python(folder: str, names: list[str]) -> list[str]:
        return [n for n in names if not n.endswith(".py") and not Path(folder, n).is_dir()]

    for source in SOURCE_DIRS:
        for package in source.iterdir():
            if package.is_dir() and (package / "__init__.py").exists():
                shutil.copytree(package, target / package.name, ignore=not_python)
    return target


def test_contracts_list_no_exceptions() -> None:
    found = contracts()
    assert {c["id"] for c in found} == {
        "library-layers",
        "services-independent",
        "library-below-services",
        "services-not-on-tools",
    }
    assert all(not c.get("ignore_imports") for c in found)
    assert all(not c.get("unmatched_ignore_imports_alerting") for c in found)


def test_every_module_of_the_library_is_in_a_layer() -> None:
    """A module left out of the layers would be free to import anything."""
    (layers,) = [c["layers"] for c in contracts() if c["type"] == "layers"]
    placed = {module.strip() for layer in layers for module in layer.split("|")}
    package = ROOT / "libs" / "promethean" / "src" / "promethean"
    top = {
        f"promethean.{path.stem}"
        for path in package.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__")
        or (path.is_dir() and (path / "__init__.py").exists())
    }
    assert top - placed == set(), f"not in any layer: {sorted(top - placed)}"


def test_the_architecture_doc_names_every_layer_and_contract() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    (layers,) = [c["layers"] for c in contracts() if c["type"] == "layers"]
    modules = [module.strip() for layer in layers for module in layer.split("|")]
    missing = [m for m in modules if f"`{m}`" not in doc and f"`{m.split('.')[-1]}`" not in doc]
    assert not missing, f"docs/architecture.md does not name {missing}"
    assert all(f"`{c['id']}`" in doc for c in contracts())


def test_every_contract_is_kept() -> None:
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("importer", "imported", "broken"),
    [
        ("promethean/store/upward.py", "promethean.client", "only downwards"),
        ("promethean/frames/upward.py", "promethean.bus", "only downwards"),
        ("promethean_gateway/sideways.py", "promethean_broker", "another service"),
        ("promethean/downward.py", "promethean_worker", "never imports a service"),
        ("promethean_compactor/tools.py", "promethean.cli", "command line"),
    ],
)
def test_a_planted_violation_is_caught(
    tmp_path: Path, importer: str, imported: str, broken: str
) -> None:
    sources = copy_sources(tmp_path / "src")
    (sources / importer).write_text(f"import {imported}\n", encoding="utf-8")

    result = lint_imports(sources)

    assert result.returncode == 1, result.stdout + result.stderr
    broken_lines = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert len(broken_lines) == 1, result.stdout
    assert broken in broken_lines[0]
