"""deploy/helm/values.schema.json describes each chart value that sets one
service variable with that variable's row of the settings tables
(scripts/chart_schema_descriptions.py), and each such value really sets
that variable in the chart's templates."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Final

import pytest

ROOT: Final = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts"))
chart_schema_descriptions = importlib.import_module("chart_schema_descriptions")

TEMPLATES: Final = ROOT / "deploy" / "helm" / "templates"
TEMPLATES_OF: Final = {
    "common": ("_helpers.tpl",),
    "broker": ("broker.yaml",),
    "gateway": ("gateway.yaml",),
    "auth": ("gateway.yaml", "secret.yaml"),
    "compactor": ("compactor.yaml",),
    "outboxDrainer": ("outbox-drainer.yaml",),
    "worker": ("worker.yaml",),
}
NEAR_LINES: Final = 3
"""How far apart the variable and the value it is set from may be in a template."""


def test_schema_descriptions_are_fresh() -> None:
    assert chart_schema_descriptions.main(["--check"]) == 0, (
        "run python scripts/chart_schema_descriptions.py"
    )


def test_only_descriptions_change() -> None:
    text = chart_schema_descriptions.SCHEMA.read_text(encoding="utf-8")
    stripped = json.loads(text)
    for path in chart_schema_descriptions.CHART_VARIABLES:
        del chart_schema_descriptions.schema_node(stripped, path)["description"]
    regenerated = json.loads(chart_schema_descriptions.updated_schema(json.dumps(stripped)))
    assert regenerated == json.loads(text)


@pytest.mark.parametrize(
    ("path", "variable"),
    [(path, variable) for path, (_, variable) in chart_schema_descriptions.CHART_VARIABLES.items()],
)
def test_the_value_sets_its_variable(path: str, variable: str) -> None:
    section, key = path.split(".")
    for name in TEMPLATES_OF[section]:
        lines = (TEMPLATES / name).read_text(encoding="utf-8").splitlines()
        for index, line in enumerate(lines):
            if variable in line:
                near = lines[max(0, index - NEAR_LINES) : index + NEAR_LINES + 1]
                if any(key in other for other in near):
                    return
    pytest.fail(f"{path} does not set {variable} in {TEMPLATES_OF[section]}")


def test_an_unknown_variable_is_an_error() -> None:
    with pytest.raises(KeyError, match="NO_SUCH_VARIABLE"):
        chart_schema_descriptions.description("broker", "NO_SUCH_VARIABLE")
