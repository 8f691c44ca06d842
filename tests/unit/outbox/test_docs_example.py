"""The complete example of docs/outbox.md runs, so it cannot rot."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[3] / "docs" / "outbox.md"
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def runnable_examples() -> list[str]:
    """The python blocks that are whole programs (they end in ``asyncio.run``)."""
    return [block for block in PYTHON_BLOCK.findall(DOC.read_text()) if "asyncio.run(" in block]


def test_the_sqlite_example_runs(tmp_path: Path) -> None:
    [example] = runnable_examples()
    result = subprocess.run(
        [sys.executable, "-c", example],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
