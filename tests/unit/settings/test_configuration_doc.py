"""docs/configuration.md carries the variable tables generated from the
services' settings tables (scripts/configuration_tables.py), fresh."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Final

import pytest

ROOT: Final = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts"))
configuration_tables = importlib.import_module("configuration_tables")

DOC_TEXT: Final = configuration_tables.DOC.read_text(encoding="utf-8")


def test_doc_tables_are_fresh() -> None:
    assert configuration_tables.main(["--check"]) == 0, "run python scripts/configuration_tables.py"


def test_an_edited_row_makes_the_doc_stale() -> None:
    edited = DOC_TEXT.replace("| `BUS_PORT` | `7070` |", "| `BUS_PORT` | `7071` |")
    assert edited != DOC_TEXT
    assert configuration_tables.updated_doc(edited) == DOC_TEXT


@pytest.mark.parametrize("name", sorted(configuration_tables.TABLES))
def test_every_table_has_its_markers(name: str) -> None:
    assert DOC_TEXT.count(configuration_tables.start_marker(name)) == 1
    assert DOC_TEXT.count(configuration_tables.end_marker(name)) == 1


def test_missing_markers_are_an_error() -> None:
    with pytest.raises(ValueError, match="markers"):
        configuration_tables.updated_doc("no markers")


@pytest.mark.parametrize(("name", "table"), sorted(configuration_tables.TABLES.items()))
def test_every_variable_has_a_row(name: str, table: object) -> None:
    section = DOC_TEXT.split(configuration_tables.start_marker(name))[1]
    section = section.split(configuration_tables.end_marker(name))[0]
    for variable in configuration_tables.TABLES[name].variables:
        assert f"| `{variable.name}` |" in section, (name, variable.name)
