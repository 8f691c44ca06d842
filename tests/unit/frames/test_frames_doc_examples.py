"""Every JSON example in docs/protocol.md is a frame the codec accepts, every
frame class has an example, and the error-code table lists every code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from promethean import names
from promethean.frames import (
    BROKER_REPLY_TYPES,
    BROKER_REQUEST_TYPES,
    CONNECTION_CLOSING,
    GATEWAY_REPLY_TYPES,
    GATEWAY_REQUEST_TYPES,
    ErrorCode,
    encode,
    parse_frame,
)

DOC = Path(__file__).resolve().parents[3] / "docs" / "protocol.md"
TEXT = DOC.read_text(encoding="utf-8")
EXAMPLES = re.findall(r"```json\n(.*?)```", TEXT, flags=re.DOTALL)


def test_the_document_has_examples() -> None:
    assert len(EXAMPLES) >= 30


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"example-{i}" for i in range(len(EXAMPLES))])
def test_example_is_a_valid_frame(example: str) -> None:
    frame = parse_frame(example)
    assert parse_frame(encode(frame)) == frame


def test_every_frame_class_has_an_example() -> None:
    shown = {type(parse_frame(example)) for example in EXAMPLES}
    every: set[type[Any]] = set(
        BROKER_REQUEST_TYPES + BROKER_REPLY_TYPES + GATEWAY_REQUEST_TYPES + GATEWAY_REPLY_TYPES
    )
    assert every - shown == set()


def test_error_table_lists_every_code_with_its_connection_effect() -> None:
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| .*? \| (\*\*closed\*\*|usable) \|$", TEXT, re.M))
    assert set(rows) == {code.value for code in ErrorCode}
    closing = {code for code, effect in rows.items() if effect == "**closed**"}
    assert closing == {code.value for code in CONNECTION_CLOSING}


@pytest.mark.parametrize(
    "figure",
    [
        f"{names.MAX_FRAME_BYTES:,}",
        f"{names.MAX_PAYLOAD_BYTES:,}",
        f"| headers per event | {names.MAX_HEADERS} |",
        f"| header name | {names.MAX_HEADER_NAME_BYTES} bytes |",
        f"{names.MAX_HEADER_VALUE_BYTES:,} bytes",
        f"{names.MAX_KEY_BYTES:,} bytes",
        f"| {names.MAX_ID_BYTES} bytes",
        names.NAME_PATTERN,
    ],
)
def test_limits_table_matches_the_constants(figure: str) -> None:
    assert figure in TEXT
