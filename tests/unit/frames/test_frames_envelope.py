"""Envelopes built from a stored event, an envelope or a received message
carry the same fields and share the payload bytes."""

from __future__ import annotations

import msgspec

from promethean.client.types import Message
from promethean.frames.envelope import Envelope, EventBody, envelope_of, event_body, event_body_of
from promethean.store.records import StoredEvent

STORED = StoredEvent(
    topic="orders",
    partition=2,
    offset=7,
    id="e1",
    ts=1_700_000_000_000,
    payload=b'{"$gt": 1}',
    key="k",
    headers={"h": "v"},
    caused_by=["e0"],
    tags=["t"],
    sid="s1",
)
FIELDS = {"id": "e1", "ts": 1_700_000_000_000, "topic": "orders", "key": "k"}
REST = {"headers": {"h": "v"}, "caused_by": ["e0"], "tags": ["t"], "sid": "s1"}


def test_envelope_of_a_stored_event() -> None:
    payload = msgspec.Raw(STORED.payload)
    envelope = envelope_of(STORED, payload)
    assert envelope == Envelope(partition=2, payload=payload, **FIELDS, **REST)  # type: ignore[arg-type]
    assert envelope.payload is payload


def test_the_gateway_view_drops_only_the_partition() -> None:
    envelope = envelope_of(STORED, msgspec.Raw(STORED.payload))
    body = event_body(envelope)
    assert body == EventBody(payload=envelope.payload, **FIELDS, **REST)  # type: ignore[arg-type]
    assert body == event_body_of(envelope, envelope.payload)


def test_the_gateway_view_of_a_received_message() -> None:
    message = Message(
        topic="orders",
        group="g",
        partition=2,
        offset=7,
        attempt=1,
        id="e1",
        ts=1_700_000_000_000,
        raw_payload=STORED.payload,
        key="k",
        headers={"h": "v"},
        caused_by=["e0"],
        tags=["t"],
        sid="s1",
    )
    body = event_body_of(message, msgspec.Raw(message.raw_payload))
    assert body == event_body(envelope_of(STORED, msgspec.Raw(STORED.payload)))
    assert msgspec.json.encode(body).count(b'"partition"') == 0
