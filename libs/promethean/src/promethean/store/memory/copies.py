"""Detach values from the caller: what goes in or comes out of the memory
store never shares a mutable object with store state.

Small frozen records are copied field by field; free-form JSON values
(member data, group assignments, schemas, view values) are kept as encoded
JSON text and decoded afresh on every read, exactly as a real store would
hand back a new document each time.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from promethean.store.records import (
    NewEvent,
    NewOutboxRow,
    OutboxRow,
    OutboxStatus,
    StoredEvent,
)

_encoder = msgspec.json.Encoder()
T = TypeVar("T")


def encode_json(value: Any) -> bytes:
    """JSON text of ``value``; raises `TypeError` for anything JSON cannot hold."""
    return _encoder.encode(value)


def decode_json(data: bytes) -> Any:
    return msgspec.json.decode(data)


def decode_as(data: bytes, kind: type[T]) -> T:
    return msgspec.json.decode(data, type=kind)


def _copied_headers(headers: dict[str, str] | None) -> dict[str, str] | None:
    return None if headers is None else dict(headers)


def _copied_list(items: list[str] | None) -> list[str] | None:
    return None if items is None else list(items)


def stored_event(topic: str, partition: int, offset: int, event: NewEvent) -> StoredEvent:
    return StoredEvent(
        topic=topic,
        partition=partition,
        offset=offset,
        id=event.id,
        ts=event.ts,
        payload=bytes(event.payload),
        key=event.key,
        headers=_copied_headers(event.headers),
        caused_by=_copied_list(event.caused_by),
        tags=_copied_list(event.tags),
        sid=event.sid,
    )


def detached_event(event: StoredEvent) -> StoredEvent:
    if event.headers is None and event.caused_by is None and event.tags is None:
        return event  # frozen and holding nothing mutable: safe to share
    return msgspec.structs.replace(
        event,
        headers=_copied_headers(event.headers),
        caused_by=_copied_list(event.caused_by),
        tags=_copied_list(event.tags),
    )


def pending_outbox_row(row: NewOutboxRow) -> OutboxRow:
    return OutboxRow(
        id=row.id,
        topic=row.topic,
        payload=bytes(row.payload),
        created_ms=row.created_ms,
        status=OutboxStatus.PENDING,
        key=row.key,
        headers=_copied_headers(row.headers),
    )


def detached_outbox_row(row: OutboxRow) -> OutboxRow:
    if row.headers is None:
        return row
    return msgspec.structs.replace(row, headers=dict(row.headers))
