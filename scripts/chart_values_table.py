"""The values table of deploy/helm/README.md, generated from the comments
of deploy/helm/values.yaml (the comment block right above a key describes
it) and its defaults.

    python scripts/chart_values_table.py          # rewrite the table in the README
    python scripts/chart_values_table.py --check  # exit 1 when the README is stale

tests/deploy/test_chart_readme.py runs the check.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

ROOT: Final = Path(__file__).resolve().parents[1]
VALUES: Final = ROOT / "deploy" / "helm" / "values.yaml"
README: Final = ROOT / "deploy" / "helm" / "README.md"
START: Final = "<!-- values-table:start (scripts/chart_values_table.py) -->"
END: Final = "<!-- values-table:end -->"
KEY_RE: Final = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_][A-Za-z0-9_.\-/]*):(?P<rest>.*)$")
IDENTIFIER_RE: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Row:
    path: str
    kind: str
    default: str
    description: str


def _lookup(values: Any, path: list[str]) -> Any:
    for key in path:
        values = values[key]
    return values


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if value is None:
        return "null"
    return "object"


def _is_section(value: Any, rest: str) -> bool:
    """A key whose children get rows of their own: a block mapping (not
    written inline) whose keys are plain names (not annotation keys)."""
    inline = rest.split("#", 1)[0].strip()
    return (
        not inline
        and isinstance(value, dict)
        and bool(value)
        and all(IDENTIFIER_RE.match(str(k)) for k in value)
    )


def rows(text: str) -> list[Row]:
    values = yaml.safe_load(text)
    result: list[Row] = []
    stack: list[tuple[int, str]] = []
    comment: list[str] = []
    skip_deeper_than: int | None = None
    for line in text.splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip(" "))
        if skip_deeper_than is not None:
            if stripped and indent <= skip_deeper_than and not stripped.startswith("-"):
                skip_deeper_than = None
            else:
                continue
        if not stripped:
            comment = []
            continue
        if stripped.startswith("#"):
            comment.append(stripped.lstrip("#").strip())
            continue
        match = KEY_RE.match(line)
        if match is None:
            comment = []
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = [key for _, key in stack] + [match["key"]]
        value = _lookup(values, path)
        description = " ".join(comment)
        comment = []
        if _is_section(value, match["rest"]):
            if description:
                result.append(Row(".".join(path), "object", "", description))
            stack.append((indent, match["key"]))
            continue
        result.append(
            Row(".".join(path), _kind(value), json.dumps(value, ensure_ascii=False), description)
        )
        if not match["rest"].split("#", 1)[0].strip():
            skip_deeper_than = indent
    return result


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table(text: str) -> str:
    lines = ["| Key | Type | Default | Description |", "|---|---|---|---|"]
    for row in rows(text):
        default = f"`{_cell(row.default)}`" if row.default else ""
        lines.append(f"| `{row.path}` | {row.kind} | {default} | {_cell(row.description)} |")
    return "\n".join(lines)


def updated_readme(readme: str, values_text: str) -> str:
    if START not in readme or END not in readme:
        raise ValueError(f"{README.name} lacks the {START} ... {END} markers")
    before, _, rest = readme.partition(START)
    _, _, after = rest.partition(END)
    return f"{before}{START}\n{table(values_text)}\n{END}{after}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail when the README is stale")
    args = parser.parse_args(argv)
    readme = README.read_text(encoding="utf-8")
    fresh = updated_readme(readme, VALUES.read_text(encoding="utf-8"))
    if args.check:
        if fresh != readme:
            print(f"{README} is stale: run python scripts/chart_values_table.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
