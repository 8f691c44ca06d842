"""Checks the decoder cannot express: name patterns and byte-size limits.

They run once per decoded request frame, after msgspec has already enforced
types and numeric ranges. Each check reads fields it needs and raises
`InvalidFrameError`; none re-encodes a payload (its size is ``len(raw)``).
Replies are not checked here: they come from our own services, which build
them from data that passed these checks on the way in.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final

import msgspec

from promethean import names
from promethean.frames.broker import (
    Ack,
    AckBatch,
    Fetch,
    Flow,
    Heartbeat,
    Join,
    Leave,
    Metadata,
    Modack,
    Nack,
    Publish,
    PublishBatch,
    PublishItem,
    Revoked,
    Subscribe,
    Unsubscribe,
)
from promethean.frames.codes import ErrorCode, InvalidFrameError
from promethean.frames.fields import KINDS_WITH_VALUE, Filter, FromSpec
from promethean.frames.gateway import (
    GwAck,
    GwModack,
    GwNack,
    GwPublish,
    GwSubscribe,
    GwUnsubscribe,
)

MAX_REASON_BYTES: Final = names.MAX_HEADER_VALUE_BYTES
"""A NACK reason travels with a dead-lettered event like a header value."""

_SHOWN_CHARS: Final = 64
NAME_CACHE_SIZE: Final = 4096


def utf8_len(text: str) -> int:
    """Byte length of ``text`` in UTF-8, without encoding ASCII text."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def _shown(text: str) -> str:
    return repr(text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "…")


@lru_cache(maxsize=NAME_CACHE_SIZE)
def _valid_name(value: str) -> bool:
    """`names.is_valid_name`, remembered: every publish repeats its topic."""
    return names.is_valid_name(value)


def check_name(value: str, field: str) -> None:
    if not _valid_name(value):
        raise InvalidFrameError(
            ErrorCode.BAD_NAME,
            f"`{field}` {_shown(value)} is not a valid name: 1-200 characters of "
            "A-Z a-z 0-9 _ . -, not starting with . or -, no `..`",
            field=field,
        )


def check_payload(payload: msgspec.Raw, field: str) -> None:
    if len(payload) > names.MAX_PAYLOAD_BYTES:
        raise InvalidFrameError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            f"`{field}` is {len(payload)} bytes; the limit is {names.MAX_PAYLOAD_BYTES}",
            field=field,
        )


def check_bounded(value: str | None, field: str, limit: int, *, non_empty: bool) -> None:
    if value is None:
        return
    if non_empty and not value:
        raise InvalidFrameError(ErrorCode.BAD_FIELD, f"`{field}` must not be empty", field=field)
    if utf8_len(value) > limit:
        raise InvalidFrameError(
            ErrorCode.BAD_FIELD,
            f"`{field}` is longer than {limit} bytes",
            field=field,
        )


def check_plain(value: str | None, field: str) -> None:
    """Ids and keys may not hold control characters (NUL included): one rule
    for every protocol and store (`names.is_plain_id`)."""
    if value is not None and not names.is_plain_id(value):
        raise InvalidFrameError(
            ErrorCode.BAD_FIELD,
            f"`{field}` must not contain control characters (U+0000-U+001F, U+007F-U+009F)",
            field=field,
        )


def check_id(value: str | None, field: str, limit: int, *, non_empty: bool) -> None:
    check_bounded(value, field, limit, non_empty=non_empty)
    check_plain(value, field)


def check_header(name: str, value: str, field: str) -> None:
    if utf8_len(name) > names.MAX_HEADER_NAME_BYTES:
        raise InvalidFrameError(
            ErrorCode.HEADERS_TOO_LARGE,
            f"`{field}` has a header name longer than {names.MAX_HEADER_NAME_BYTES} bytes",
            field=field,
        )
    if utf8_len(value) > names.MAX_HEADER_VALUE_BYTES:
        raise InvalidFrameError(
            ErrorCode.HEADERS_TOO_LARGE,
            f"`{field}` header {_shown(name)} has a value longer than "
            f"{names.MAX_HEADER_VALUE_BYTES} bytes",
            field=field,
        )


def check_headers(headers: dict[str, str] | None, field: str) -> None:
    if headers is None:
        return
    if len(headers) > names.MAX_HEADERS:
        raise InvalidFrameError(
            ErrorCode.HEADERS_TOO_LARGE,
            f"`{field}` has {len(headers)} headers; the limit is {names.MAX_HEADERS}",
            field=field,
        )
    for name, value in headers.items():
        check_header(name, value, field)


def check_event_fields(
    prefix: str,
    *,
    key: str | None,
    headers: dict[str, str] | None,
    id: str | None,
    caused_by: list[str] | None = None,
    sid: str | None = None,
) -> None:
    # Absent fields are skipped here, before their field names are built:
    # this runs for every published event.
    if key is not None:
        check_id(key, prefix + "key", names.MAX_KEY_BYTES, non_empty=False)
    if id is not None:
        check_id(id, prefix + "id", names.MAX_ID_BYTES, non_empty=True)
    if headers is not None:
        check_headers(headers, prefix + "headers")
    if caused_by is not None:
        for i, cause in enumerate(caused_by):
            check_id(cause, f"{prefix}caused_by[{i}]", names.MAX_ID_BYTES, non_empty=True)
    if sid is not None:
        check_id(sid, prefix + "sid", names.MAX_ID_BYTES, non_empty=False)


def check_start(start: FromSpec | None, field: str) -> None:
    if start is not None and start.value is None and start.kind in KINDS_WITH_VALUE:
        raise InvalidFrameError(
            ErrorCode.MISSING_FIELD,
            f"`{field}.value` is required when `{field}.kind` is {start.kind!r}",
            field=f"{field}.value",
        )


def check_filter(spec: Filter | None, field: str) -> None:
    if spec is None:
        return
    check_id(spec.key, f"{field}.key", names.MAX_KEY_BYTES, non_empty=False)
    if spec.header is not None:
        check_header(spec.header[0], spec.header[1], f"{field}.header")


def check_topic_group(topic: str, group: str) -> None:
    check_name(topic, "topic")
    check_name(group, "group")


# --- broker requests ---------------------------------------------------------


def _publish_fields(frame: Publish | PublishItem, prefix: str) -> None:
    check_name(frame.topic, prefix + "topic")
    check_payload(frame.payload, prefix + "payload")
    check_event_fields(
        prefix,
        key=frame.key,
        headers=frame.headers,
        id=frame.id,
        caused_by=frame.caused_by,
        sid=frame.sid,
    )


def _publish(frame: Publish) -> None:
    _publish_fields(frame, "")


def _publish_batch(frame: PublishBatch) -> None:
    for i, item in enumerate(frame.items):
        _publish_fields(item, f"items[{i}].")


def _subscribe(frame: Subscribe) -> None:
    check_topic_group(frame.topic, frame.group)
    check_start(frame.from_, "from")
    check_filter(frame.filter, "filter")


def _delivery_ref(frame: Ack | Modack | AckBatch | Unsubscribe) -> None:
    check_topic_group(frame.topic, frame.group)


def _nack(frame: Nack) -> None:
    check_topic_group(frame.topic, frame.group)
    check_bounded(frame.reason, "reason", MAX_REASON_BYTES, non_empty=False)


def _flow(frame: Flow) -> None:
    if (frame.topic is None) != (frame.group is None):
        missing = "group" if frame.group is None else "topic"
        raise InvalidFrameError(
            ErrorCode.MISSING_FIELD,
            f"`{missing}` is required when FLOW names a subscription",
            field=missing,
        )
    if frame.topic is not None and frame.group is not None:
        check_topic_group(frame.topic, frame.group)


def _join(frame: Join) -> None:
    check_name(frame.group, "group")
    for i, topic in enumerate(frame.topics):
        check_name(topic, f"topics[{i}]")


def _membership(frame: Heartbeat | Leave) -> None:
    check_name(frame.group, "group")


def _fetch(frame: Fetch) -> None:
    check_topic_group(frame.topic, frame.group)


def _metadata(frame: Metadata) -> None:
    for i, topic in enumerate(frame.topics or ()):
        check_name(topic, f"topics[{i}]")


def _revoked(frame: Revoked) -> None:
    check_name(frame.group, "group")
    for topic in frame.partitions:
        check_name(topic, "partitions")


# --- gateway requests --------------------------------------------------------


def _gw_publish(frame: GwPublish) -> None:
    check_name(frame.topic, "topic")
    check_payload(frame.payload, "payload")
    if frame.opts is not None:
        check_event_fields(
            "opts.", key=frame.opts.key, headers=frame.opts.headers, id=frame.opts.id
        )


def _gw_subscribe(frame: GwSubscribe) -> None:
    check_topic_group(frame.topic, frame.group)
    if frame.opts is not None:
        check_start(frame.opts.start, "opts.from")
        check_filter(frame.opts.filter, "opts.filter")


def _gw_delivery_ref(frame: GwAck | GwNack | GwModack) -> None:
    check_topic_group(frame.topic, frame.group)
    check_id(frame.id, "id", names.MAX_ID_BYTES, non_empty=True)


def _gw_nack(frame: GwNack) -> None:
    _gw_delivery_ref(frame)
    check_bounded(frame.reason, "reason", MAX_REASON_BYTES, non_empty=False)


def _gw_unsubscribe(frame: GwUnsubscribe) -> None:
    check_topic_group(frame.topic, frame.group)


REQUEST_CHECKS: Final[dict[type[Any], Callable[[Any], None]]] = {
    Publish: _publish,
    PublishBatch: _publish_batch,
    Subscribe: _subscribe,
    Ack: _delivery_ref,
    Nack: _nack,
    Modack: _delivery_ref,
    AckBatch: _delivery_ref,
    Flow: _flow,
    Unsubscribe: _delivery_ref,
    Join: _join,
    Heartbeat: _membership,
    Revoked: _revoked,
    Leave: _membership,
    Fetch: _fetch,
    Metadata: _metadata,
    GwPublish: _gw_publish,
    GwSubscribe: _gw_subscribe,
    GwAck: _gw_delivery_ref,
    GwNack: _gw_nack,
    GwModack: _gw_delivery_ref,
    GwUnsubscribe: _gw_unsubscribe,
}
"""Per request class, the check run after decoding (absent: nothing to check)."""
