"""Every ```python block of docs/client.md runs, unchanged except for the
broker URL, against a fresh real broker, and exits with status 0."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Final

import pytest

DOC: Final = Path(__file__).resolve().parents[3] / "docs" / "client.md"
DOC_URL: Final = "ws://localhost:7070/ws"
RUN_TIMEOUT_S: Final = 90
_BLOCK = re.compile(r"^```python\n(?P<code>.*?)^```", re.MULTILINE | re.DOTALL)
_HEADING = re.compile(r"^#+ (?P<title>.+)$", re.MULTILINE)


def examples() -> list[Any]:
    text = DOC.read_text()
    found = []
    for match in _BLOCK.finditer(text):
        headings = _HEADING.findall(text, 0, match.start())
        title = headings[-1] if headings else "top"
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
        found.append(pytest.param(match.group("code"), id=f"{len(found) + 1}-{slug}"))
    return found


EXAMPLES: Final = examples()


def test_the_doc_has_examples() -> None:
    assert len(EXAMPLES) >= 6
    for param in EXAMPLES:
        assert DOC_URL in param.values[0], f"example {param.id} does not use {DOC_URL}"


@pytest.mark.parametrize("code", EXAMPLES)
def test_example_runs(code: str, start_broker: Any, tmp_path: Path) -> None:
    broker = start_broker()
    script = tmp_path / "example.py"
    script.write_text(code.replace(DOC_URL, broker.url))
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, (
        f"example failed with {result.returncode}\n--- stdout\n{result.stdout}"
        f"\n--- stderr\n{result.stderr}\n--- broker log\n{broker.log_tail()}"
    )
