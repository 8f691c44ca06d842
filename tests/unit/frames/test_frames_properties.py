"""Property tests: whatever arrives, a parser returns a typed frame or raises
`InvalidFrameError` (never another exception), and valid frames round-trip."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from frames_samples import (
    broker_replies,
    broker_requests,
    gateway_replies,
    gateway_requests,
    json_values,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from promethean.frames import (
    BROKER_REPLY_TYPES,
    BROKER_REQUEST_TYPES,
    GATEWAY_REPLY_TYPES,
    GATEWAY_REQUEST_TYPES,
    ErrorCode,
    InvalidFrameError,
    encode,
    parse_broker_reply,
    parse_broker_request,
    parse_frame,
    parse_gateway_reply,
    parse_gateway_request,
)

FRAME_CODES = {
    ErrorCode.FRAME_TOO_LARGE,
    ErrorCode.BAD_JSON,
    ErrorCode.BAD_FRAME,
    ErrorCode.MISSING_TYPE,
    ErrorCode.UNKNOWN_TYPE,
    ErrorCode.MISSING_FIELD,
    ErrorCode.BAD_FIELD,
    ErrorCode.BAD_NAME,
    ErrorCode.PAYLOAD_TOO_LARGE,
    ErrorCode.HEADERS_TOO_LARGE,
}

ALL_TYPES = BROKER_REQUEST_TYPES + BROKER_REPLY_TYPES + GATEWAY_REQUEST_TYPES + GATEWAY_REPLY_TYPES
PARSERS: list[tuple[Callable[..., Any], tuple[type[Any], ...]]] = [
    (parse_broker_request, BROKER_REQUEST_TYPES),
    (parse_broker_reply, BROKER_REPLY_TYPES),
    (parse_gateway_request, GATEWAY_REQUEST_TYPES),
    (parse_gateway_reply, GATEWAY_REPLY_TYPES),
    (parse_frame, ALL_TYPES),
]
PARSER_IDS = ["broker-request", "broker-reply", "gateway-request", "gateway-reply", "any"]

TAGS = sorted({cls.__struct_config__.tag for cls in ALL_TYPES} | {"NOPE", ""})
FIELD_NAMES = sorted(
    {name for cls in ALL_TYPES for name in cls.__struct_encode_fields__}
    | {"kind", "value", "key", "header", "ackTimeoutMs", "extend_ms", "results", "code", "msg"}
)

fuzz = settings(max_examples=100, deadline=None)


def parse_or_refuse(
    parser: Callable[..., Any], expected: tuple[type[Any], ...], data: str | bytes, **kwargs: Any
) -> Any:
    """Parse ``data``; a refusal must be a known frame code, a success must be
    one of ``expected`` and must survive encode → parse unchanged."""
    refused: InvalidFrameError | None = None
    try:
        frame = parser(data, **kwargs)
    except InvalidFrameError as error:
        refused = error
    if refused is not None:
        assert refused.code in FRAME_CODES
        assert refused.corr is None or isinstance(refused.corr, str | int)
        assert refused.msg
        return None
    assert isinstance(frame, expected)
    assert parser(encode(frame)) == frame
    return frame


frame_like_objects = st.builds(
    lambda tag_key, tag, fields: {tag_key: tag, **fields},
    st.sampled_from(["type", "op"]),
    st.sampled_from(TAGS),
    st.dictionaries(
        st.sampled_from(FIELD_NAMES),
        json_values | st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, max_size=4),
        max_size=8,
    ),
)


@pytest.mark.parametrize(("parser", "expected"), PARSERS, ids=PARSER_IDS)
@fuzz
@given(value=json_values, ascii_only=st.booleans())
def test_any_json_value_gives_a_frame_or_a_frame_error(
    parser: Callable[..., Any], expected: tuple[type[Any], ...], value: Any, ascii_only: bool
) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    parse_or_refuse(parser, expected, text)
    parse_or_refuse(parser, expected, text.encode())


@pytest.mark.parametrize(("parser", "expected"), PARSERS, ids=PARSER_IDS)
@fuzz
@given(value=frame_like_objects, limit=st.none() | st.integers(min_value=0, max_value=400))
def test_frame_like_objects_give_a_frame_or_a_frame_error(
    parser: Callable[..., Any],
    expected: tuple[type[Any], ...],
    value: dict[str, Any],
    limit: int | None,
) -> None:
    kwargs = {} if limit is None else {"max_frame_bytes": limit}
    parse_or_refuse(parser, expected, json.dumps(value, ensure_ascii=False), **kwargs)


@pytest.mark.parametrize(("parser", "expected"), PARSERS, ids=PARSER_IDS)
@fuzz
@given(text=st.text(alphabet=st.characters() | st.characters(categories=["Cs"])))
def test_arbitrary_text_gives_a_frame_or_a_frame_error(
    parser: Callable[..., Any], expected: tuple[type[Any], ...], text: str
) -> None:
    parse_or_refuse(parser, expected, text)


@pytest.mark.parametrize(("parser", "expected"), PARSERS, ids=PARSER_IDS)
@fuzz
@given(data=st.binary())
def test_arbitrary_bytes_give_a_frame_or_a_frame_error(
    parser: Callable[..., Any], expected: tuple[type[Any], ...], data: bytes
) -> None:
    parse_or_refuse(parser, expected, data)


VALID: list[tuple[Callable[..., Any], tuple[type[Any], ...], st.SearchStrategy[Any]]] = [
    (parse_broker_request, BROKER_REQUEST_TYPES, broker_requests),
    (parse_broker_reply, BROKER_REPLY_TYPES, broker_replies),
    (parse_gateway_request, GATEWAY_REQUEST_TYPES, gateway_requests),
    (parse_gateway_reply, GATEWAY_REPLY_TYPES, gateway_replies),
]
VALID_IDS = PARSER_IDS[:4]


@pytest.mark.parametrize(("parser", "expected", "frames"), VALID, ids=VALID_IDS)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_valid_frames_round_trip(
    parser: Callable[..., Any],
    expected: tuple[type[Any], ...],
    frames: st.SearchStrategy[Any],
    data: st.DataObject,
) -> None:
    frame = data.draw(frames)
    wire = encode(frame)
    assert parser(wire) == frame
    assert parser(wire.decode()) == frame
    assert parse_frame(wire) == frame
    assert encode(parser(wire)) == wire


mutations = st.lists(
    st.tuples(
        st.sampled_from(["replace", "delete", "insert"]),
        st.integers(0, 10_000),
        st.binary(max_size=3),
    ),
    min_size=1,
    max_size=4,
)


def mutate(wire: bytes, edits: list[tuple[str, int, bytes]]) -> bytes:
    buffer = bytearray(wire)
    for action, position, chunk in edits:
        at = position % (len(buffer) + 1)
        if action == "insert":
            buffer[at:at] = chunk
        elif action == "delete":
            del buffer[at : at + max(1, len(chunk))]
        else:
            buffer[at : at + len(chunk)] = chunk
    return bytes(buffer)


@pytest.mark.parametrize(("parser", "expected", "frames"), VALID, ids=VALID_IDS)
@fuzz
@given(data=st.data(), edits=mutations)
def test_corrupted_valid_frames_give_a_frame_or_a_frame_error(
    parser: Callable[..., Any],
    expected: tuple[type[Any], ...],
    frames: st.SearchStrategy[Any],
    data: st.DataObject,
    edits: list[tuple[str, int, bytes]],
) -> None:
    corrupted = mutate(encode(data.draw(frames)), edits)
    parse_or_refuse(parser, expected, corrupted)
    parse_or_refuse(parse_frame, ALL_TYPES, corrupted)
