"""Requests are checked by the broker protocol's own codec: the mock builds
the frame the real client would send and parses it as the broker would, so
a name, size or range the broker refuses is refused here with the same code."""

from __future__ import annotations

from typing import cast

import msgspec

from promethean.client.types import SubscribeOptions
from promethean.frames import broker as bf
from promethean.frames.codec import encode, parse_broker_request
from promethean.frames.fields import Filter, FromSpec


def _as_broker_sees(frame: bf.BrokerFrame) -> bf.BrokerRequest:
    return parse_broker_request(encode(frame))


def check_publish(
    topic: str, raw_payload: bytes, key: str | None, headers: dict[str, str] | None, event_id: str
) -> None:
    _as_broker_sees(
        bf.Publish(
            topic=topic, payload=msgspec.Raw(raw_payload), key=key, headers=headers, id=event_id
        )
    )


def check_subscribe(topic: str, group: str, options: SubscribeOptions) -> bf.Subscribe:
    """The SUBSCRIBE frame the real client would send for these arguments."""
    start = FromSpec(kind=options.start, value=options.start_value) if options.start else None
    has_filter = options.filter_key is not None or options.filter_header is not None
    frame = _as_broker_sees(
        bf.Subscribe(
            topic=topic,
            group=group,
            from_=start,
            max_inflight=options.max_inflight,
            ack_timeout_ms=options.ack_timeout_ms,
            filter=(
                Filter(key=options.filter_key, header=options.filter_header) if has_filter else None
            ),
        )
    )
    return cast(bf.Subscribe, frame)


def check_nack(topic: str, group: str, partition: int, offset: int, reason: str | None) -> None:
    _as_broker_sees(
        bf.Nack(topic=topic, group=group, partition=partition, offset=offset, reason=reason)
    )


def check_modack(topic: str, group: str, partition: int, offset: int, extend_ms: int) -> None:
    _as_broker_sees(
        bf.Modack(topic=topic, group=group, partition=partition, offset=offset, extend_ms=extend_ms)
    )
