"""Every frame-level error code, on both protocols where it applies, with the
offending field and the recovered ``corr``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from promethean import names
from promethean.errors import FrameError
from promethean.frames import (
    ErrorCode,
    InvalidFrameError,
    Publish,
    encode,
    error_frame,
    gw_error_frame,
    parse_broker_reply,
    parse_broker_request,
    parse_frame,
    parse_gateway_reply,
    parse_gateway_request,
)

Parser = Callable[..., Any]

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

TOO_BIG_PAYLOAD = '"' + "x" * names.MAX_PAYLOAD_BYTES + '"'
MANY_HEADERS = {f"h{i}": "v" for i in range(names.MAX_HEADERS + 1)}
LONG_HEADER_NAME = {"n" * (names.MAX_HEADER_NAME_BYTES + 1): "v"}
LONG_HEADER_VALUE = {"n": "v" * (names.MAX_HEADER_VALUE_BYTES + 1)}
# Fits in characters, not in bytes: each "é" is two UTF-8 bytes.
WIDE_HEADER_VALUE = {"n": "é" * (names.MAX_HEADER_VALUE_BYTES // 2 + 1)}
LONG_KEY = "k" * (names.MAX_KEY_BYTES + 1)
LONG_ID = "i" * (names.MAX_ID_BYTES + 1)
LONG_REASON = "r" * (names.MAX_HEADER_VALUE_BYTES + 1)


def pub(**fields: Any) -> dict[str, Any]:
    return {"type": "PUBLISH", "topic": "orders", "payload": {"a": 1}, "corr": "c", **fields}


def gpub(**fields: Any) -> dict[str, Any]:
    return {"op": "PUBLISH", "topic": "orders", "payload": {"a": 1}, "corr": "c", **fields}


def ack(**fields: Any) -> dict[str, Any]:
    base = {"type": "ACK", "topic": "o", "partition": 0, "group": "g", "offset": 1, "corr": 9}
    return {**base, **fields}


def sub(**fields: Any) -> dict[str, Any]:
    return {"type": "SUBSCRIBE", "topic": "o", "group": "g", "corr": "s", **fields}


def gsub(**opts: Any) -> dict[str, Any]:
    return {"op": "SUBSCRIBE", "topic": "o", "group": "g", "corr": "s", "opts": opts}


def gack(**fields: Any) -> dict[str, Any]:
    return {"op": "ACK", "topic": "o", "group": "g", "id": "ev-1", "corr": 3, **fields}


Case = tuple[str, Parser, Any, str | None, str | int | None]


def cases(code: ErrorCode, rows: list[Case], **kwargs: Any) -> list[Any]:
    """One pytest param per (id, parser, frame, expected field, expected corr);
    dict/list frames are sent as JSON text, str/bytes as they are."""
    return [
        pytest.param(
            parser,
            json.dumps(data) if isinstance(data, dict | list) else data,
            code,
            field,
            corr,
            kwargs,
            id=f"{code}:{name}",
        )
        for name, parser, data, field, corr in rows
    ]


B, BR, G, GR = parse_broker_request, parse_broker_reply, parse_gateway_request, parse_gateway_reply
C = ErrorCode

BATCH_ITEMS_BAD = [{"topic": "a", "payload": 1}, {"topic": "b..c", "payload": 1}]
MESSAGE_NO_ENVELOPE = {
    "type": "MESSAGE",
    "topic": "o",
    "partition": 0,
    "group": "g",
    "offset": 1,
    "attempt": 1,
    "ack_deadline_ms": None,
}
EVENT_BAD_ATTEMPT = {
    "op": "EVENT",
    "topic": "o",
    "group": "g",
    "ctx": {"attempt": "1", "ack_deadline_ms": None},
    "event": {"id": "e", "ts": 1, "topic": "o", "payload": 1},
}
WIDE_CORR = "é" * 40  # 40 characters, 80 bytes


def big_payload_frame(head: str, tail: str = "}") -> str:
    return head + TOO_BIG_PAYLOAD + tail


CASES = [
    *cases(
        C.FRAME_TOO_LARGE,
        [
            ("b", B, pub(payload="x" * 200), None, "c"),
            ("b-utf8", B, '{"type":"PING","corr":"' + WIDE_CORR + '"}', None, WIDE_CORR),
            ("g", G, gpub(payload="x" * 200), None, "c"),
            ("g-not-json", G, b"x" * 101, None, None),
        ],
        max_frame_bytes=100,
    ),
    *cases(
        C.FRAME_TOO_LARGE,
        [("b-default-limit", B, pub(payload="x" * names.MAX_FRAME_BYTES), None, "c")],
    ),
    *cases(
        C.BAD_JSON,
        [
            ("b-truncated", B, b'{"type":"PING","corr":1', None, None),
            ("b-not-json", B, "hello", None, None),
            ("b-empty", B, b"", None, None),
            ("b-nan", B, b'{"type":"PUBLISH","topic":"t","payload":NaN}', None, None),
            ("b-not-utf8", B, b'{"type":"PING","corr":"\xff"}', None, None),
            (
                "b-not-utf8-payload",
                B,
                b'{"type":"PUBLISH","topic":"t","payload":"\xc3("}',
                None,
                None,
            ),
            ("b-lone-surrogate-text", B, '{"type":"PING","x":"\ud800"}', None, None),
            ("b-lone-surrogate-escape", B, b'{"type":"PING","corr":"\\ud800"}', None, None),
            ("g-truncated", G, b'{"op":"AUTH",', None, None),
            ("g-not-utf8", G, b'{"op":"AUTH","token":"\xfe"}', None, None),
        ],
    ),
    *cases(
        C.BAD_FRAME,
        [
            ("b-array", B, [{"type": "PING"}], None, None),
            ("b-string", B, '"PING"', None, None),
            ("b-null", B, "null", None, None),
            ("g-number", G, "42", None, None),
        ],
    ),
    *cases(
        C.MISSING_TYPE,
        [
            ("b-no-type", B, {"topic": "o", "corr": 1}, None, 1),
            ("b-empty-object", B, {}, None, None),
            ("b-gateway-frame", B, {"op": "AUTH", "token": "t", "corr": "a"}, None, "a"),
            ("g-no-op", G, {"topic": "o", "corr": "x"}, None, "x"),
            ("g-broker-frame", G, {"type": "PING", "corr": 2}, None, 2),
        ],
    ),
    *cases(
        C.UNKNOWN_TYPE,
        [
            ("b-unknown", B, {"type": "PUBLISHX", "corr": 4}, "type", 4),
            ("b-not-a-string", B, {"type": 7, "corr": 4}, "type", 4),
            ("b-null", B, {"type": None}, "type", None),
            ("b-lowercase", B, {"type": "ping"}, "type", None),
            ("b-reply-sent-as-request", B, {"type": "OK", "corr": 1}, "type", 1),
            ("b-request-sent-as-reply", BR, {"type": "PING"}, "type", None),
            ("g-unknown", G, {"op": "EVENT", "corr": "e"}, "op", "e"),
            ("g-request-sent-as-reply", GR, {"op": "AUTH", "token": "t"}, "op", None),
        ],
    ),
    *cases(
        C.MISSING_FIELD,
        [
            (
                "b-publish-payload",
                B,
                {"type": "PUBLISH", "topic": "o", "corr": "p"},
                "payload",
                "p",
            ),
            ("b-ack-offset", B, {k: v for k, v in ack().items() if k != "offset"}, "offset", 9),
            ("b-from-kind", B, sub(**{"from": {"value": 3}}), "from.kind", "s"),
            ("b-from-offset-value", B, sub(**{"from": {"kind": "offset"}}), "from.value", "s"),
            ("b-from-ts-value", B, sub(**{"from": {"kind": "timestamp"}}), "from.value", "s"),
            (
                "b-flow-group",
                B,
                {"type": "FLOW", "credits": 1, "topic": "o", "corr": 1},
                "group",
                1,
            ),
            ("b-flow-topic", B, {"type": "FLOW", "credits": 1, "group": "g"}, "topic", None),
            (
                "b-batch-item-topic",
                B,
                {"type": "PUBLISH_BATCH", "corr": 5, "items": [{"payload": 2}]},
                "items[0].topic",
                5,
            ),
            ("b-message-envelope", BR, MESSAGE_NO_ENVELOPE, "envelope", None),
            ("g-publish-topic", G, {"op": "PUBLISH", "payload": 1, "corr": 1}, "topic", 1),
            ("g-modack-extend", G, gack(op="MODACK"), "extend_ms", 3),
            (
                "g-from-offset-value",
                G,
                gsub(**{"from": {"kind": "offset"}}),
                "opts.from.value",
                "s",
            ),
            ("g-auth-token", G, {"op": "AUTH"}, "token", None),
        ],
    ),
    *cases(
        C.BAD_FIELD,
        [
            ("b-topic-object", B, pub(topic={"$ne": ""}), "topic", "c"),
            ("b-topic-number", B, pub(topic=5), "topic", "c"),
            ("b-partition-string", B, ack(partition="0"), "partition", 9),
            ("b-offset-negative", B, ack(offset=-1), "offset", 9),
            ("b-offset-float", B, ack(offset=1.0), "offset", 9),
            ("b-offset-bool", B, ack(offset=True), "offset", 9),
            ("b-offset-over-int64", B, ack(offset=2**63), "offset", 9),
            ("b-generation-negative", B, ack(generation=-2), "generation", 9),
            ("b-max-inflight-zero", B, sub(max_inflight=0), "max_inflight", "s"),
            ("b-max-inflight-high", B, sub(max_inflight=100_001), "max_inflight", "s"),
            ("b-ack-timeout-low", B, sub(ack_timeout_ms=99), "ack_timeout_ms", "s"),
            ("b-ack-timeout-high", B, sub(ack_timeout_ms=3_600_001), "ack_timeout_ms", "s"),
            ("b-credits-negative", B, sub(credits=-1), "credits", "s"),
            ("b-flow-credits-negative", B, {"type": "FLOW", "credits": -5}, "credits", None),
            ("b-from-kind-unknown", B, sub(**{"from": {"kind": "middle"}}), "from.kind", "s"),
            ("b-from-string", B, sub(**{"from": "latest"}), "from", "s"),
            ("b-filter-header-short", B, sub(filter={"header": ["name"]}), "filter.header", "s"),
            ("b-filter-key-long", B, sub(filter={"key": LONG_KEY}), "filter.key", "s"),
            ("b-extend-high", B, ack(type="MODACK", extend_ms=3_600_001), "extend_ms", 9),
            ("b-header-value-number", B, pub(headers={"a": 1}), "headers[...]", "c"),
            ("b-header-value-null", B, pub(headers={"a": None}), "headers[...]", "c"),
            ("b-headers-list", B, pub(headers=[["a", "b"]]), "headers", "c"),
            ("b-key-long", B, pub(key=LONG_KEY), "key", "c"),
            ("b-key-long-utf8", B, pub(key="é" * (names.MAX_KEY_BYTES // 2 + 1)), "key", "c"),
            ("b-id-long", B, pub(id=LONG_ID), "id", "c"),
            ("b-id-empty", B, pub(id=""), "id", "c"),
            ("b-caused-by-long", B, pub(caused_by=[LONG_ID]), "caused_by[0]", "c"),
            ("b-reason-long", B, ack(type="NACK", reason=LONG_REASON), "reason", 9),
            ("b-corr-bool", B, {"type": "PING", "corr": True}, "corr", None),
            ("b-corr-float", B, {"type": "PING", "corr": 1.5}, "corr", None),
            ("b-corr-object", B, {"type": "PING", "corr": {}}, "corr", None),
            (
                "b-ack-batch-empty",
                B,
                {"type": "ACK_BATCH", "topic": "o", "group": "g", "items": [], "corr": 1},
                "items",
                1,
            ),
            (
                "b-ack-batch-pair",
                B,
                {"type": "ACK_BATCH", "topic": "o", "group": "g", "items": [[0, 1], [2]]},
                "items[1]",
                None,
            ),
            ("b-publish-batch-empty", B, {"type": "PUBLISH_BATCH", "items": []}, "items", None),
            (
                "b-published-duplicate-int",
                BR,
                {
                    "type": "PUBLISHED",
                    "topic": "o",
                    "partition": 0,
                    "offset": 0,
                    "id": "i",
                    "duplicate": 1,
                },
                "duplicate",
                None,
            ),
            ("g-topic-object", G, gpub(topic={"$gt": ""}), "topic", "c"),
            ("g-opts-string", G, gpub(opts="x"), "opts", "c"),
            ("g-ack-timeout-low", G, gsub(ackTimeoutMs=50), "opts.ackTimeoutMs", "s"),
            ("g-max-inflight-zero", G, gsub(max_inflight=0), "opts.max_inflight", "s"),
            ("g-from-unknown-word", G, gsub(**{"from": "offset"}), "opts.from", "s"),
            ("g-header-number", G, gpub(opts={"headers": {"a": 2}}), "opts.headers[...]", "c"),
            ("g-key-long", G, gpub(opts={"key": LONG_KEY}), "opts.key", "c"),
            ("g-id-long", G, gpub(opts={"id": LONG_ID}), "opts.id", "c"),
            ("g-ack-id-empty", G, gack(id=""), "id", 3),
            ("g-ack-id-number", G, gack(id=12), "id", 3),
            ("g-extend-negative", G, gack(op="MODACK", extend_ms=-1), "extend_ms", 3),
            ("g-reason-object", G, gack(op="NACK", reason={"a": 1}), "reason", 3),
            ("g-event-attempt-string", GR, EVENT_BAD_ATTEMPT, "ctx.attempt", None),
        ],
    ),
    *cases(
        C.BAD_NAME,
        [
            ("b-topic-double-dot", B, pub(topic="a..b"), "topic", "c"),
            ("b-topic-empty", B, pub(topic=""), "topic", "c"),
            ("b-topic-leading-dot", B, pub(topic=".a"), "topic", "c"),
            ("b-topic-operator", B, pub(topic="$where"), "topic", "c"),
            ("b-topic-too-long", B, pub(topic="t" * 201), "topic", "c"),
            ("b-group-space", B, sub(group="my group"), "group", "s"),
            ("b-ack-group-slash", B, ack(group="a/b"), "group", 9),
            (
                "b-unsubscribe",
                B,
                {"type": "UNSUBSCRIBE", "topic": "a b", "group": "g"},
                "topic",
                None,
            ),
            (
                "b-flow",
                B,
                {"type": "FLOW", "credits": 1, "topic": "-x", "group": "g"},
                "topic",
                None,
            ),
            (
                "b-batch-item",
                B,
                {"type": "PUBLISH_BATCH", "corr": 8, "items": BATCH_ITEMS_BAD},
                "items[1].topic",
                8,
            ),
            (
                "b-ack-batch-group",
                B,
                {"type": "ACK_BATCH", "topic": "o", "group": "", "items": [[0, 1]]},
                "group",
                None,
            ),
            ("g-publish-topic", G, gpub(topic="orders/created"), "topic", "c"),
            (
                "g-subscribe-group",
                G,
                {"op": "SUBSCRIBE", "topic": "o", "group": "g*"},
                "group",
                None,
            ),
            ("g-ack-topic", G, gack(topic="é"), "topic", 3),
            ("g-unsubscribe", G, {"op": "UNSUBSCRIBE", "topic": "o", "group": ".."}, "group", None),
        ],
    ),
    *cases(
        C.PAYLOAD_TOO_LARGE,
        [
            (
                "b",
                B,
                big_payload_frame('{"type":"PUBLISH","corr":"c","topic":"o","payload":'),
                "payload",
                "c",
            ),
            (
                "b-batch",
                B,
                big_payload_frame(
                    '{"type":"PUBLISH_BATCH","corr":1,"items":[{"topic":"o","payload":', "}]}"
                ),
                "items[0].payload",
                1,
            ),
            (
                "g",
                G,
                big_payload_frame('{"op":"PUBLISH","corr":"c","topic":"o","payload":'),
                "payload",
                "c",
            ),
        ],
    ),
    *cases(
        C.HEADERS_TOO_LARGE,
        [
            ("b-count", B, pub(headers=MANY_HEADERS), "headers", "c"),
            ("b-name", B, pub(headers=LONG_HEADER_NAME), "headers", "c"),
            ("b-value", B, pub(headers=LONG_HEADER_VALUE), "headers", "c"),
            ("b-value-utf8", B, pub(headers=WIDE_HEADER_VALUE), "headers", "c"),
            (
                "b-filter-value",
                B,
                sub(filter={"header": ["n", LONG_HEADER_VALUE["n"]]}),
                "filter.header",
                "s",
            ),
            (
                "b-batch",
                B,
                {
                    "type": "PUBLISH_BATCH",
                    "items": [{"topic": "o", "payload": 1, "headers": MANY_HEADERS}],
                },
                "items[0].headers",
                None,
            ),
            ("g-count", G, gpub(opts={"headers": MANY_HEADERS}), "opts.headers", "c"),
            ("g-value", G, gpub(opts={"headers": LONG_HEADER_VALUE}), "opts.headers", "c"),
            (
                "g-filter-name",
                G,
                gsub(filter={"header": ["n" * (names.MAX_HEADER_NAME_BYTES + 1), "v"]}),
                "opts.filter.header",
                "s",
            ),
        ],
    ),
]


@pytest.mark.parametrize(("parser", "data", "code", "field", "corr", "kwargs"), CASES)
def test_bad_frame_is_refused_with_a_stable_code(
    parser: Parser,
    data: str | bytes,
    code: ErrorCode,
    field: str | None,
    corr: str | int | None,
    kwargs: dict[str, Any],
) -> None:
    with pytest.raises(InvalidFrameError) as caught:
        parser(data, **kwargs)
    error = caught.value
    assert (error.code, error.field, error.corr) == (code, field, corr), error.msg
    assert error.msg


# parse_frame accepts every direction of both protocols, so a frame refused
# only for its type or direction may parse there; all other refusals agree.
REQUEST_CASES = [
    p
    for p in CASES
    if p.values[0] in (parse_broker_request, parse_gateway_request)
    and p.values[2] not in (ErrorCode.MISSING_TYPE, ErrorCode.UNKNOWN_TYPE)
]


@pytest.mark.parametrize(("parser", "data", "code", "field", "corr", "kwargs"), REQUEST_CASES)
def test_parse_frame_agrees_with_the_specific_parser(
    parser: Parser,
    data: str | bytes,
    code: ErrorCode,
    field: str | None,
    corr: str | int | None,
    kwargs: dict[str, Any],
) -> None:
    with pytest.raises(InvalidFrameError) as caught:
        parse_frame(data, **kwargs)
    assert (caught.value.code, caught.value.field, caught.value.corr) == (code, field, corr)


def _codes_for(parsers: tuple[Parser, ...]) -> set[Any]:
    return {p.values[2] for p in CASES if p.values[0] in parsers}


def test_every_frame_code_is_exercised_on_the_broker_protocol() -> None:
    assert _codes_for((parse_broker_request, parse_broker_reply)) == FRAME_CODES


def test_every_frame_code_is_exercised_on_the_gateway_protocol() -> None:
    assert _codes_for((parse_gateway_request, parse_gateway_reply)) == FRAME_CODES


def test_parse_frame_without_type_or_op_names_both() -> None:
    with pytest.raises(InvalidFrameError) as caught:
        parse_frame(b'{"corr":"z","topic":"o"}')
    assert caught.value.code == ErrorCode.MISSING_TYPE
    assert caught.value.corr == "z"
    assert "`type`" in caught.value.msg
    assert "`op`" in caught.value.msg


def test_invalid_frame_error_is_a_frame_error_and_a_value_error() -> None:
    with pytest.raises(FrameError) as caught:
        parse_broker_request(b"{")
    assert isinstance(caught.value, ValueError)


def test_first_problem_in_the_frame_is_reported() -> None:
    with pytest.raises(InvalidFrameError) as caught:
        parse_broker_request(json.dumps(pub(topic="a..b", payload=None, key=5)))
    assert (caught.value.code, caught.value.field) == (ErrorCode.BAD_FIELD, "key")


def test_frame_at_the_limit_is_accepted() -> None:
    frame = json.dumps({"type": "PUBLISH", "topic": "o", "payload": ""}).encode()
    padded = frame[:-1] + b" " * (64 - len(frame)) + b"}"
    assert len(padded) == 64
    parse_broker_request(padded, max_frame_bytes=64)
    with pytest.raises(InvalidFrameError) as caught:
        parse_broker_request(padded, max_frame_bytes=63)
    assert caught.value.code == ErrorCode.FRAME_TOO_LARGE


@pytest.mark.parametrize(
    ("headers", "key", "id_"),
    [
        ({f"h{i}": "v" for i in range(names.MAX_HEADERS)}, None, None),
        ({"n" * names.MAX_HEADER_NAME_BYTES: "v" * names.MAX_HEADER_VALUE_BYTES}, None, None),
        ({"n": "é" * (names.MAX_HEADER_VALUE_BYTES // 2)}, None, None),
        (None, "k" * names.MAX_KEY_BYTES, "i" * names.MAX_ID_BYTES),
    ],
)
def test_values_exactly_at_their_limits_are_accepted(
    headers: dict[str, str] | None, key: str | None, id_: str | None
) -> None:
    at_limit_payload = '"' + "x" * (names.MAX_PAYLOAD_BYTES - 2) + '"'
    frame = json.dumps(pub(headers=headers, key=key, id=id_, payload=None)).replace(
        '"payload": null', '"payload": ' + at_limit_payload
    )
    parsed = parse_broker_request(frame)
    assert isinstance(parsed, Publish)
    assert len(parsed.payload) == names.MAX_PAYLOAD_BYTES
    assert (parsed.headers, parsed.key, parsed.id) == (headers, key, id_)


@pytest.mark.parametrize("make", [error_frame, gw_error_frame])
def test_error_reply_echoes_the_recovered_corr(make: Callable[..., Any]) -> None:
    with pytest.raises(InvalidFrameError) as caught:
        parse_broker_request(json.dumps(pub(topic="no good")))
    reply = json.loads(encode(make(caught.value)))
    assert reply["corr"] == "c"
    assert reply["code"] == "bad_name"
    assert reply["msg"] == caught.value.msg


def test_error_message_does_not_echo_a_huge_client_value() -> None:
    with pytest.raises(InvalidFrameError) as caught:
        parse_broker_request(json.dumps({"type": "X" * 100_000, "corr": 1}))
    assert caught.value.code == ErrorCode.UNKNOWN_TYPE
    assert len(caught.value.msg) < 300
