"""Every example of docs/testing/broker-mock.md runs, as a user's suite would.

The page's ``toml`` block becomes ``pyproject.toml``, ``python conftest``
blocks ``conftest.py`` and every other ``python`` block a test module of its
own, in a scratch directory. One pytest subprocess runs them all (the
``bus`` fixture comes from the installed plugin, as in any project); each
block is then checked here: it must define tests and all of them must pass.
"""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

DOC: Final = Path(__file__).resolve().parents[3] / "docs" / "testing" / "broker-mock.md"
FENCE: Final = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```\s*$", re.M | re.S)
RUN_TIMEOUT_S: Final = 100


@dataclass(frozen=True)
class Block:
    index: int
    line: int
    info: str
    body: str

    @property
    def module(self) -> str:
        return f"test_doc_block_{self.index:02d}"


def _blocks() -> list[Block]:
    text = DOC.read_text(encoding="utf-8")
    return [
        Block(i, text.count("\n", 0, m.start()) + 1, m.group("info").strip(), m.group("body"))
        for i, m in enumerate(FENCE.finditer(text))
    ]


BLOCKS: Final = _blocks()
TEST_BLOCKS: Final = [b for b in BLOCKS if b.info == "python"]


@dataclass(frozen=True)
class Outcome:
    passed: dict[str, list[str]]
    failed: dict[str, list[str]]
    output: str


@pytest.fixture(scope="module")
def doc_run(tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    root = tmp_path_factory.mktemp("doc-examples")
    conftest = [b.body for b in BLOCKS if b.info == "python conftest"]
    (root / "conftest.py").write_text("\n\n".join(conftest), encoding="utf-8")
    [pyproject] = [b.body for b in BLOCKS if b.info == "toml"]
    (root / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    for block in TEST_BLOCKS:
        (root / f"{block.module}.py").write_text(block.body, encoding="utf-8")
    report = root / "report.xml"
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    passed: dict[str, list[str]] = {}
    failed: dict[str, list[str]] = {}
    if report.exists():
        for case in ET.parse(report).getroot().iter("testcase"):
            module = case.get("classname", "").split(".")[0]
            bad = any(child.tag in ("failure", "error", "skipped") for child in case)
            (failed if bad else passed).setdefault(module, []).append(case.get("name", ""))
    return Outcome(passed, failed, completed.stdout + completed.stderr)


def test_the_page_has_the_blocks_the_runner_expects() -> None:
    infos = {b.info for b in BLOCKS}
    assert {"python", "python conftest", "toml"} <= infos
    assert len(TEST_BLOCKS) >= 10


@pytest.mark.parametrize("block", TEST_BLOCKS, ids=lambda b: f"line-{b.line}")
def test_doc_example_runs(block: Block, doc_run: Outcome) -> None:
    failed = doc_run.failed.get(block.module, [])
    passed = doc_run.passed.get(block.module, [])
    assert not failed, f"example at line {block.line} failed {failed}:\n{doc_run.output}"
    assert passed, f"example at line {block.line} defines no passing test:\n{doc_run.output}"
