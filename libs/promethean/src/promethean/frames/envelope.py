"""The event as it travels to consumers: `Envelope` inside a broker
``MESSAGE``, `EventBody` inside a gateway ``EVENT``.

``payload`` is `msgspec.Raw`: the JSON text exactly as the publisher sent it.
Nothing on the way decodes it, so keys such as ``$gt`` or ``a.b`` stay data.
"""

from __future__ import annotations

from typing import Protocol

import msgspec

from promethean.frames.fields import NonNegative


class Envelope(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    id: str
    ts: NonNegative
    topic: str
    partition: NonNegative
    payload: msgspec.Raw
    key: str | None = None
    headers: dict[str, str] | None = None
    caused_by: list[str] | None = None
    tags: list[str] | None = None
    sid: str | None = None


class EventBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The gateway's view of an event: an `Envelope` without the partition,
    which the gateway hides from its clients."""

    id: str
    ts: NonNegative
    topic: str
    payload: msgspec.Raw
    key: str | None = None
    headers: dict[str, str] | None = None
    caused_by: list[str] | None = None
    tags: list[str] | None = None
    sid: str | None = None


class EventFields(Protocol):
    """What an envelope carries besides the payload, wherever it is read
    from: a stored event, an `Envelope`, or a message a client received."""

    @property
    def id(self) -> str: ...
    @property
    def ts(self) -> int: ...
    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def key(self) -> str | None: ...
    @property
    def headers(self) -> dict[str, str] | None: ...
    @property
    def caused_by(self) -> list[str] | None: ...
    @property
    def tags(self) -> list[str] | None: ...
    @property
    def sid(self) -> str | None: ...


# Two structs, so two builders: each passes its fields by name, which on
# the delivery path costs less than any shared dict of them would.


def envelope_of(event: EventFields, payload: msgspec.Raw) -> Envelope:
    """The `Envelope` of ``event``; ``payload`` is its JSON text, not copied."""
    return Envelope(
        id=event.id,
        ts=event.ts,
        topic=event.topic,
        partition=event.partition,
        payload=payload,
        key=event.key,
        headers=event.headers,
        caused_by=event.caused_by,
        tags=event.tags,
        sid=event.sid,
    )


def event_body_of(event: EventFields, payload: msgspec.Raw) -> EventBody:
    """The gateway view of ``event``: its `Envelope` without the partition."""
    return EventBody(
        id=event.id,
        ts=event.ts,
        topic=event.topic,
        payload=payload,
        key=event.key,
        headers=event.headers,
        caused_by=event.caused_by,
        tags=event.tags,
        sid=event.sid,
    )


def event_body(envelope: Envelope) -> EventBody:
    """The gateway view of ``envelope``; the payload bytes are shared, not copied."""
    return event_body_of(envelope, envelope.payload)
