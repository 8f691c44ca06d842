"""encode → parse round-trips for every frame class, payloads kept verbatim,
unknown fields ignored, defaults omitted, and parse_frame's dispatch."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from frames_samples import (
    BROKER_REPLIES,
    BROKER_REQUESTS,
    ENVELOPE,
    GATEWAY_REPLIES,
    GATEWAY_REQUESTS,
    TRICKY_PAYLOAD,
    raw,
)

from promethean.frames import (
    BROKER_REPLY_TYPES,
    BROKER_REQUEST_TYPES,
    GATEWAY_REPLY_TYPES,
    GATEWAY_REQUEST_TYPES,
    Ack,
    ErrorCode,
    FromSpec,
    GwPublish,
    GwSubscribe,
    GwSubscribeOpts,
    InvalidFrameError,
    ItemError,
    Message,
    Publish,
    PublishedBatch,
    PublishedItem,
    Subscribe,
    encode,
    event_body,
    parse_broker_reply,
    parse_broker_request,
    parse_frame,
    parse_gateway_reply,
    parse_gateway_request,
)

Parser = Callable[..., Any]

CASES: list[tuple[str, Parser, dict[type[Any], list[Any]], tuple[type[Any], ...]]] = [
    ("broker request", parse_broker_request, BROKER_REQUESTS, BROKER_REQUEST_TYPES),
    ("broker reply", parse_broker_reply, BROKER_REPLIES, BROKER_REPLY_TYPES),
    ("gateway request", parse_gateway_request, GATEWAY_REQUESTS, GATEWAY_REQUEST_TYPES),
    ("gateway reply", parse_gateway_reply, GATEWAY_REPLIES, GATEWAY_REPLY_TYPES),
]

ALL_SAMPLES = [
    pytest.param(parser, frame, id=f"{type(frame).__name__}-{i}")
    for _, parser, samples, _ in CASES
    for frames in samples.values()
    for i, frame in enumerate(frames)
]


@pytest.mark.parametrize(("label", "samples", "union_types"), [(c[0], c[2], c[3]) for c in CASES])
def test_every_frame_class_has_a_sample(
    label: str, samples: dict[type[Any], list[Any]], union_types: tuple[type[Any], ...]
) -> None:
    assert set(samples) == set(union_types), label


@pytest.mark.parametrize(("parser", "frame"), ALL_SAMPLES)
def test_round_trip_bytes_and_text(parser: Parser, frame: Any) -> None:
    wire = encode(frame)
    assert parser(wire) == frame
    assert parser(wire.decode()) == frame
    assert parse_frame(wire) == frame
    assert encode(parser(wire)) == wire


@pytest.mark.parametrize(("parser", "frame"), ALL_SAMPLES)
def test_wire_is_a_json_object_keyed_by_the_protocol_tag(parser: Parser, frame: Any) -> None:
    decoded = json.loads(encode(frame))
    tag = "op" if parser in (parse_gateway_request, parse_gateway_reply) else "type"
    assert isinstance(decoded[tag], str)
    assert decoded[tag] == decoded[tag].upper()
    assert decoded.get("corr") == frame.corr


def test_broker_and_gateway_tags_match_the_contract() -> None:
    def tags(types: tuple[type[Any], ...]) -> set[str]:
        return {t.__struct_config__.tag for t in types}

    assert tags(BROKER_REQUEST_TYPES) == {
        "AUTH",
        "PUBLISH",
        "PUBLISH_BATCH",
        "SUBSCRIBE",
        "ACK",
        "NACK",
        "MODACK",
        "ACK_BATCH",
        "FLOW",
        "UNSUBSCRIBE",
        "PING",
        "METADATA",
        "JOIN",
        "HEARTBEAT",
        "REVOKED",
        "LEAVE",
        "FETCH",
    }
    assert tags(BROKER_REPLY_TYPES) == {
        "OK",
        "PUBLISHED",
        "PUBLISHED_BATCH",
        "SUBSCRIBED",
        "MESSAGE",
        "MESSAGE_BATCH",
        "ERR",
        "PONG",
        "ASSIGNMENT",
        "REVOKE",
        "METADATA_RESPONSE",
    }
    assert tags(GATEWAY_REQUEST_TYPES) == {
        "AUTH",
        "PUBLISH",
        "SUBSCRIBE",
        "ACK",
        "NACK",
        "MODACK",
        "UNSUBSCRIBE",
    }
    assert tags(GATEWAY_REPLY_TYPES) == {"OK", "EVENT", "ERR"}


@pytest.mark.parametrize(
    "spacing",
    [TRICKY_PAYLOAD, b'{ "$gt" : 1 ,\n "a.b" : [ 1 , 2 ] }', b'"\\u00e9\\n"', b"1E+2", b"-0.0"],
)
def test_payload_bytes_are_preserved_verbatim(spacing: bytes) -> None:
    frame = b'{"type":"PUBLISH","topic":"orders","payload":' + spacing + b',"corr":1}'
    parsed = parse_broker_request(frame)
    assert isinstance(parsed, Publish)
    assert bytes(parsed.payload) == spacing
    assert spacing in encode(parsed)

    gateway = parse_gateway_request(b'{"op":"PUBLISH","topic":"orders","payload":' + spacing + b"}")
    assert isinstance(gateway, GwPublish)
    assert bytes(gateway.payload) == spacing


def test_non_ascii_payload_is_preserved_from_text_input() -> None:
    text = '{"type":"PUBLISH","topic":"t","payload":{"naïve":"日本語 ✓"}}'
    parsed = parse_broker_request(text)
    assert isinstance(parsed, Publish)
    assert bytes(parsed.payload) == '{"naïve":"日本語 ✓"}'.encode()


def test_message_envelope_payload_round_trips_verbatim() -> None:
    message = BROKER_REPLIES[Message][0]
    wire = encode(message)
    assert b'"payload":{"$gt":1, "a.b":[1,2]}' in wire
    parsed = parse_broker_reply(wire)
    assert isinstance(parsed, Message)
    assert bytes(parsed.envelope.payload) == TRICKY_PAYLOAD


def test_unknown_fields_are_ignored_at_every_level() -> None:
    broker = parse_broker_request(
        b'{"future":1,"type":"SUBSCRIBE","topic":"o","group":"g","extra":{"deep":[1,{"x":null}]},'
        b'"from":{"kind":"earliest","hint":"x"},"filter":{"key":"k","regex":".*"}}'
    )
    assert broker == Subscribe(
        topic="o", group="g", from_=FromSpec(kind="earliest"), filter=broker.filter
    )
    assert isinstance(broker, Subscribe)
    assert broker.filter is not None
    assert broker.filter.key == "k"

    gateway = parse_gateway_request(
        b'{"op":"SUBSCRIBE","topic":"o","group":"g","v":2,"opts":{"ackTimeoutMs":500,"batch":9}}'
    )
    assert gateway == GwSubscribe(topic="o", group="g", opts=GwSubscribeOpts(ack_timeout_ms=500))

    reply = parse_broker_reply(
        b'{"type":"MESSAGE","topic":"o","partition":0,"group":"g","offset":1,"attempt":1,'
        b'"ack_deadline_ms":null,"shard":"x","envelope":{"id":"e","ts":1,"topic":"o",'
        b'"partition":0,"payload":[],"offset":1,"attempts":2}}'
    )
    assert isinstance(reply, Message)
    assert reply.envelope.id == "e"


def test_optional_fields_left_at_default_are_not_written() -> None:
    wire = json.loads(encode(Publish(topic="t", payload=raw(b"1"))))
    assert wire == {"type": "PUBLISH", "topic": "t", "payload": 1}
    batch = PublishedBatch(results=[PublishedItem(topic="t", partition=0, offset=1, id="i")])
    assert json.loads(encode(batch)) == {
        "type": "PUBLISHED_BATCH",
        "results": [{"topic": "t", "partition": 0, "offset": 1, "id": "i"}],
    }


def test_required_nullable_fields_are_written_as_null() -> None:
    message = BROKER_REPLIES[Message][1]
    assert json.loads(encode(message))["ack_deadline_ms"] is None


def test_subscribe_from_uses_the_wire_name_from() -> None:
    frame = Subscribe(topic="o", group="g", from_=FromSpec(kind="offset", value=3))
    assert json.loads(encode(frame))["from"] == {"kind": "offset", "value": 3}


def test_gateway_ack_timeout_uses_camel_case_on_the_wire() -> None:
    frame = GwSubscribe(topic="o", group="g", opts=GwSubscribeOpts(ack_timeout_ms=1000))
    assert json.loads(encode(frame))["opts"] == {"ackTimeoutMs": 1000}


@pytest.mark.parametrize(
    ("opts", "expected"),
    [
        (GwSubscribeOpts(from_="latest"), FromSpec(kind="latest")),
        (GwSubscribeOpts(from_="earliest"), FromSpec(kind="earliest")),
        (GwSubscribeOpts(from_=FromSpec(kind="offset", value=4)), FromSpec(kind="offset", value=4)),
        (GwSubscribeOpts(), None),
    ],
)
def test_gateway_from_shorthand_expands(opts: GwSubscribeOpts, expected: FromSpec | None) -> None:
    assert opts.start == expected


def test_published_batch_results_align_and_keep_their_class() -> None:
    parsed = parse_broker_reply(
        b'{"type":"PUBLISHED_BATCH","corr":"b","results":['
        b'{"topic":"a","partition":0,"offset":5,"id":"x","duplicate":true},'
        b'{"code":"payload_too_large","msg":"too big"},'
        b'{"topic":"a","partition":1,"offset":0,"id":"y"}]}'
    )
    assert parsed == PublishedBatch(
        results=[
            PublishedItem(topic="a", partition=0, offset=5, id="x", duplicate=True),
            ItemError(code="payload_too_large", msg="too big"),
            PublishedItem(topic="a", partition=1, offset=0, id="y"),
        ],
        corr="b",
    )


def test_published_batch_result_without_offset_or_code_is_refused_with_corr() -> None:
    with pytest.raises(InvalidFrameError) as caught:
        parse_broker_reply(
            b'{"type":"PUBLISHED_BATCH","corr":"b","results":[{"code":"x","msg":""},{"id":"z"}]}'
        )
    assert caught.value.code == ErrorCode.MISSING_FIELD
    assert caught.value.field == "results[1]"
    assert caught.value.corr == "b"


def test_parse_frame_dispatches_on_type_or_op() -> None:
    assert isinstance(
        parse_frame(b'{"type":"ACK","topic":"o","partition":0,"group":"g","offset":1}'), Ack
    )
    assert isinstance(parse_frame(b'{"op":"PUBLISH","topic":"o","payload":1}'), GwPublish)
    assert isinstance(parse_frame(b'{"type":"PUBLISHED_BATCH","results":[]}'), PublishedBatch)


def test_parse_frame_prefers_type_when_both_keys_are_present() -> None:
    frame = parse_frame(b'{"op":"ACK","type":"PING"}')
    assert type(frame).__name__ == "Ping"


def test_event_body_shares_the_envelope_payload_and_drops_the_partition() -> None:
    body = event_body(ENVELOPE)
    assert body.payload is ENVELOPE.payload
    assert "partition" not in json.loads(msgspec.json.encode(body))
    assert (body.id, body.ts, body.topic, body.key, body.headers) == (
        ENVELOPE.id,
        ENVELOPE.ts,
        ENVELOPE.topic,
        ENVELOPE.key,
        ENVELOPE.headers,
    )
    assert (body.caused_by, body.tags, body.sid) == (
        ENVELOPE.caused_by,
        ENVELOPE.tags,
        ENVELOPE.sid,
    )


def test_frames_are_immutable() -> None:
    frame = Ack(topic="o", partition=0, group="g", offset=1)
    with pytest.raises(AttributeError):
        frame.offset = 2  # type: ignore[misc]
