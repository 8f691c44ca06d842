"""docs/decisions.md and docs/protocol.md agree on what a failed broker AUTH
does (the behaviour itself: tests/integration/broker/test_auth.py)."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start : end if end >= 0 else len(text)]


def test_decisions_say_the_first_failed_auth_closes_the_connection() -> None:
    section = _section((DOCS / "decisions.md").read_text(), "## Broker authentication")
    flat = " ".join(section.split())
    assert "first failed `AUTH`" in flat
    assert "closes the connection" in flat
    assert not re.search(r"\b(two|three|several|\d+) failed", flat, re.IGNORECASE), flat


def test_protocol_says_a_wrong_token_closes_the_connection() -> None:
    section = _section((DOCS / "protocol.md").read_text(), "### Connection and authentication")
    flat = " ".join(section.split())
    assert "a wrong token, is answered with `ERR unauthorized` and the connection is closed" in flat
