"""Metric names: the ones the services define, the ones queries use, and
promtool to check queries and rules (installed by scripts/test.sh from the
Debian package `prometheus`)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Final

import pytest
import yaml

from tests.deploy.chart import ROOT

DEFINED_RE: Final = re.compile(r"""["'](promethean_[a-z0-9_]+)["']""")
USED_RE: Final = re.compile(r"\bpromethean_[a-z0-9_]+")
SERIES_SUFFIXES: Final = ("", "_total", "_bucket", "_sum", "_count", "_created")
GRAFANA_VARIABLES: Final = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$namespace": ".*",
    "$release": ".*",
    "$topic": ".*",
    "$group": ".*",
}


def defined_metrics() -> set[str]:
    """Every series name the services and the library can export."""
    names: set[str] = set()
    for directory in (ROOT / "services", ROOT / "libs/promethean/src"):
        for path in directory.rglob("*.py"):
            for name in DEFINED_RE.findall(path.read_text(encoding="utf-8")):
                names.update(name + suffix for suffix in SERIES_SUFFIXES)
    return names


def used_metrics(expr: str) -> set[str]:
    return set(USED_RE.findall(expr))


def promtool() -> str:
    """The promtool binary; a failure in CI (scripts/test.sh installs it),
    a skip naming the missing tool elsewhere."""
    found = shutil.which("promtool")
    if found is not None:
        return found
    message = "promtool is not installed (Debian package `prometheus`; scripts/test.sh installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def check_rules(path: Path) -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def substitute(expr: str, variables: dict[str, str] = GRAFANA_VARIABLES) -> str:
    """The query with Grafana's variables replaced by plain values."""
    for variable, value in variables.items():
        expr = expr.replace(variable, value)
    return expr


def check_expressions(expressions: dict[str, str], workdir: Path) -> None:
    """Parse PromQL with promtool by wrapping each expression in a
    recording rule (Grafana's variables replaced by plain values)."""
    rules = []
    for index, (title, expr) in enumerate(sorted(expressions.items())):
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, f"{title}: unknown variable in {expr}"
        rules.append({"record": f"dashboard:query_{index}", "expr": expr})
    path = workdir / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    check_rules(path)
