"""deploy/helm/README.md carries the values table generated from the
comments of values.yaml (scripts/chart_values_table.py), fresh, with a
description for every top-level setting and every key this chart's
operators most often set."""

from __future__ import annotations

import sys
from typing import Final

import pytest
import yaml

from tests.deploy.chart import CHART_DIR, ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import chart_values_table

VALUES_TEXT: Final = (CHART_DIR / "values.yaml").read_text(encoding="utf-8")
README_TEXT: Final = (CHART_DIR / "README.md").read_text(encoding="utf-8")


def test_readme_table_is_fresh() -> None:
    assert chart_values_table.main(["--check"]) == 0, "run python scripts/chart_values_table.py"


def test_a_changed_comment_makes_it_stale() -> None:
    changed = VALUES_TEXT.replace("# Database of the bus's collections.", "# Changed.")
    assert changed != VALUES_TEXT
    assert chart_values_table.updated_readme(README_TEXT, changed) != README_TEXT


def test_every_leaf_of_values_has_a_row() -> None:
    rows = {row.path for row in chart_values_table.rows(VALUES_TEXT)}

    def leaves(value: object, prefix: str) -> set[str]:
        if (
            isinstance(value, dict)
            and value
            and all(chart_values_table.IDENTIFIER_RE.match(str(k)) for k in value)
        ):
            found: set[str] = set()
            for key, child in value.items():
                found |= leaves(child, f"{prefix}.{key}" if prefix else str(key))
            return found
        return {prefix}

    values = yaml.safe_load(VALUES_TEXT)
    missing = leaves(values, "") - rows
    # Flow-style mappings ({cpu: 250m}) are one row each.
    missing = {m for m in missing if not any(m.startswith(r + ".") for r in rows)}
    assert not missing, sorted(missing)


@pytest.mark.parametrize(
    "path",
    [
        "mongodb",
        "mongodb.replicas",
        "store.tls",
        "gateway.metricsPort",
        "gateway.autoscaling",
        "gateway.ingress",
        "worker.keda",
        "worker.drainMs",
        "topics",
        "helmTest",
        "networkPolicy.clientsFrom",
    ],
)
def test_key_is_described(path: str) -> None:
    rows = {row.path: row for row in chart_values_table.rows(VALUES_TEXT)}
    assert rows[path].description, path
    assert f"| `{path}` |" in README_TEXT


def test_every_top_level_section_is_described() -> None:
    values = yaml.safe_load(VALUES_TEXT)
    described = {row.path for row in chart_values_table.rows(VALUES_TEXT) if row.description}
    undocumented = {
        key for key, value in values.items() if isinstance(value, dict) and key not in described
    }
    assert not undocumented, sorted(undocumented)


def test_markers_are_required() -> None:
    with pytest.raises(ValueError, match="markers"):
        chart_values_table.updated_readme("no markers", VALUES_TEXT)
