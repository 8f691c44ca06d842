"""How fast the frame codec parses and encodes hot-path frames.

    uv run python bench/frames_codec.py [--count N]

Prints frames per second and microseconds per frame for PUBLISH parsing
(bytes and text input), ACK parsing, MESSAGE encoding and gateway PUBLISH
parsing. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import msgspec

from promethean.frames import (
    Envelope,
    Message,
    encode,
    parse_broker_request,
    parse_gateway_request,
)

PUBLISH = (
    b'{"type":"PUBLISH","corr":12345,"topic":"orders.created","key":"customer-42",'
    b'"headers":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},'
    b'"payload":{"order_id":"A-1001","items":[{"sku":"X1","qty":2},{"sku":"Y7","qty":1}],'
    b'"total":{"$numberDecimal":"42.50"},"a.b":true}}'
)
ACK = (
    b'{"type":"ACK","corr":7,"topic":"orders.created","partition":3,'
    b'"group":"billing","offset":1048576}'
)
GW_PUBLISH = (
    b'{"op":"PUBLISH","corr":"c-9","topic":"orders.created",'
    b'"payload":{"order_id":"A-1001","total":42.5},"opts":{"key":"customer-42"}}'
)
MESSAGE = Message(
    topic="orders.created",
    partition=3,
    group="billing",
    offset=1048576,
    attempt=1,
    ack_deadline_ms=1_700_000_030_000,
    envelope=Envelope(
        id="01HZX3K5V6Q8R9S0T1U2V3W4X5",
        ts=1_700_000_000_000,
        topic="orders.created",
        partition=3,
        key="customer-42",
        payload=msgspec.Raw(b'{"order_id":"A-1001","total":42.5}'),
    ),
)


def measure(label: str, count: int, action: Callable[[], object]) -> None:
    action()
    started = time.perf_counter()
    for _ in range(count):
        action()
    elapsed = time.perf_counter() - started
    print(
        f"{label:<36} {count:>8} frames  {elapsed:7.3f} s  "
        f"{count / elapsed:>12,.0f} frames/s  {elapsed / count * 1e6:6.2f} µs/frame"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    count = parser.parse_args().count
    publish_text = PUBLISH.decode()
    print(f"PUBLISH frame: {len(PUBLISH)} bytes")
    measure("parse PUBLISH (bytes)", count, lambda: parse_broker_request(PUBLISH))
    measure("parse PUBLISH (str)", count, lambda: parse_broker_request(publish_text))
    measure("parse ACK (bytes)", count, lambda: parse_broker_request(ACK))
    measure("parse gateway PUBLISH (bytes)", count, lambda: parse_gateway_request(GW_PUBLISH))
    measure("encode MESSAGE", count, lambda: encode(MESSAGE))
    measure("untyped decode to dicts (reference)", count, lambda: msgspec.json.decode(PUBLISH))


if __name__ == "__main__":
    main()
