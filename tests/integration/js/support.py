"""Building the JavaScript client (clients/js) for the tests that run it.

`built_js_client` installs the package's locked dev dependencies with
``npm ci`` when ``node_modules`` is missing or older than
``package-lock.json``, then runs ``npm run build`` (tsc) once per test
session, and returns the package directory.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

ROOT: Final = Path(__file__).resolve().parents[3]
JS_DIR: Final = ROOT / "clients" / "js"
NPM_TIMEOUT_S: Final = 600


@dataclass(frozen=True)
class NodeTools:
    node: str
    npm: str


def node_tools() -> NodeTools:
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("node and npm are required (scripts/test.sh installs them)")
    return NodeTools(node, npm)


def npm(tools: NodeTools, *args: str, cwd: Path) -> None:
    result = subprocess.run(
        [tools.npm, *args, "--no-audit", "--no-fund"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=NPM_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"npm {' '.join(args)} in {cwd} failed:\n{result.stdout}\n{result.stderr}")


def installed(package_dir: Path) -> bool:
    """``node_modules`` exists and is at least as new as the lockfile."""
    marker = package_dir / "node_modules" / ".package-lock.json"
    lock = package_dir / "package-lock.json"
    return marker.is_file() and marker.stat().st_mtime >= lock.stat().st_mtime


_built: list[Path] = []


def built_js_client() -> Path:
    if _built:
        return _built[0]
    tools = node_tools()
    if not installed(JS_DIR):
        npm(tools, "ci", cwd=JS_DIR)
    npm(tools, "run", "build", cwd=JS_DIR)
    _built.append(JS_DIR)
    return JS_DIR
