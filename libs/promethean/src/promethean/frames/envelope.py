"""The event as it travels to consumers: `Envelope` inside a broker
``MESSAGE``, `EventBody` inside a gateway ``EVENT``.

``payload`` is `msgspec.Raw`: the JSON text exactly as the publisher sent it.
Nothing on the way decodes it, so keys such as ``$gt`` or ``a.b`` stay data.
"""

from __future__ import annotations

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


def event_body(envelope: Envelope) -> EventBody:
    """The gateway view of ``envelope``; the payload bytes are shared, not copied."""
    return EventBody(
        id=envelope.id,
        ts=envelope.ts,
        topic=envelope.topic,
        payload=envelope.payload,
        key=envelope.key,
        headers=envelope.headers,
        caused_by=envelope.caused_by,
        tags=envelope.tags,
        sid=envelope.sid,
    )
