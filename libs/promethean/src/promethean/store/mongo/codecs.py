"""Records ⇄ BSON documents.

Rules that keep client data from ever becoming query syntax:

- payloads are stored verbatim as BSON binary (the JSON text's bytes), never
  parsed, so ``{"$gt": …}`` or ``{"a.b": …}`` inside a payload is just bytes;
- client-chosen names (topics, keys, header names, ids) only ever appear as
  values, never as field names: headers are a list of ``{n, v}`` documents
  plus ``header_pairs``, the JSON text of each ``[name, value]`` pair, which
  a header filter matches by plain equality (array-of-documents equality and
  ``$elemMatch`` on fields behave differently across servers);
- free-form maps whose keys come from outside (member data, group
  assignments keyed by topic, JSON Schemas full of ``$ref``) are stored as
  JSON text.
"""

from __future__ import annotations

from typing import Any, Final, TypeVar

import msgspec

from promethean.store.mongo.connection import Document
from promethean.store.records import (
    NewEvent,
    NewOutboxRow,
    OutboxRow,
    OutboxStatus,
    StoredEvent,
)

T = TypeVar("T")

_json_encoder = msgspec.json.Encoder()

EVENT_PROJECTION: Final = {"_id": 0, "header_pairs": 0}
INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1


def json_text(value: Any) -> str:
    return _json_encoder.encode(value).decode()


def from_json_text(text: str, kind: type[T]) -> T:
    return msgspec.json.decode(text, type=kind)


def from_json_value(text: str) -> Any:
    return msgspec.json.decode(text)


def header_pair(name: str, value: str) -> str:
    """The equality token a header filter matches (see module docstring)."""
    return json_text([name, value])


def _optional(doc: Document, **fields: Any) -> Document:
    doc.update((name, value) for name, value in fields.items() if value is not None)
    return doc


def event_document(topic: str, partition: int, offset: int, event: NewEvent) -> Document:
    doc: Document = {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "id": event.id,
        "ts": event.ts,
        "payload": bytes(event.payload),
    }
    if event.headers is not None:
        doc["headers"] = [{"n": name, "v": value} for name, value in event.headers.items()]
        doc["header_pairs"] = [header_pair(name, value) for name, value in event.headers.items()]
    return _optional(doc, key=event.key, caused_by=event.caused_by, tags=event.tags, sid=event.sid)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def plain_value(value: Any) -> Any:
    """``value`` as decoded from BSON, with every integer a plain `int`.

    BSON int64 decodes to `bson.Int64`, an `int` subclass that msgspec (and
    so the frame encoder) refuses; nothing the store returns may carry one.
    """
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, list):
        return [plain_value(item) for item in value]
    if isinstance(value, dict):
        return {key: plain_value(item) for key, item in value.items()}
    return value


def _headers(doc: Document) -> dict[str, str] | None:
    pairs = doc.get("headers")
    return None if pairs is None else {pair["n"]: pair["v"] for pair in pairs}


def stored_event(doc: Document) -> StoredEvent:
    return StoredEvent(
        topic=doc["topic"],
        partition=int(doc["partition"]),
        offset=int(doc["offset"]),
        id=doc["id"],
        ts=int(doc["ts"]),
        payload=bytes(doc["payload"]),
        key=doc.get("key"),
        headers=_headers(doc),
        caused_by=doc.get("caused_by"),
        tags=doc.get("tags"),
        sid=doc.get("sid"),
    )


def outbox_document(row: NewOutboxRow) -> Document:
    doc: Document = {
        "_id": row.id,
        "topic": row.topic,
        "payload": bytes(row.payload),
        "created_ms": row.created_ms,
        "status": OutboxStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_ms": 0,
        "key": row.key,
        "claimed_by": None,
        "lease_until_ms": None,
        "claim_token": None,
        "published_ms": None,
        "last_error": None,
    }
    if row.headers is not None:
        doc["headers"] = [{"n": name, "v": value} for name, value in row.headers.items()]
    return doc


def outbox_row(doc: Document) -> OutboxRow:
    return OutboxRow(
        id=doc["_id"],
        topic=doc["topic"],
        payload=bytes(doc["payload"]),
        created_ms=int(doc["created_ms"]),
        status=OutboxStatus(doc["status"]),
        attempts=int(doc.get("attempts", 0)),
        next_attempt_ms=int(doc.get("next_attempt_ms", 0)),
        key=doc.get("key"),
        headers=_headers(doc),
        claimed_by=doc.get("claimed_by"),
        lease_until_ms=_optional_int(doc.get("lease_until_ms")),
        published_ms=_optional_int(doc.get("published_ms")),
        last_error=doc.get("last_error"),
    )


def is_plain_bson(value: Any) -> bool:
    """True when ``value`` can be stored as BSON and read back unchanged.

    Mappings need string keys that are not operators or paths (no leading
    ``$``, no ``.``, no NUL) and integers must fit in 64 bits; anything else
    is stored as JSON text instead (see `views`).
    """
    if value is None or isinstance(value, bool | float | str):
        return True
    if isinstance(value, int):
        return INT64_MIN <= value <= INT64_MAX
    if isinstance(value, list):
        return all(is_plain_bson(item) for item in value)
    if isinstance(value, dict):
        return all(
            isinstance(key, str)
            and not key.startswith("$")
            and "." not in key
            and "\x00" not in key
            and is_plain_bson(item)
            for key, item in value.items()
        )
    return False
