"""``promethean dlq replay <topic> [--group G]``: put dead-lettered events
back on their topic.

The replay reads ``<topic>.DLQ`` as its own consumer group
(``promethean-dlq-replay[.<group>]``), re-publishes each record without its
``x-dlq-*`` headers under the id ``replay/<dlq id>``, and acks it once the
publish is durable. The group's commit remembers how far a replay got and the
derived id makes a re-published record idempotent, so running the command
twice replays nothing twice.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Final

import msgspec

from promethean.bus.dlq import H_GROUP, H_ORIGINAL_TOPIC, strip_dlq_headers
from promethean.cli.commands import Command, CommandGroup
from promethean.client.types import Message, SubscribeOptions
from promethean.client.ws import ClientConfig, WebSocketBusClient
from promethean.names import dlq_topic, is_valid_name

REPLAY_GROUP: Final = "promethean-dlq-replay"
DEFAULT_BROKER: Final = "ws://127.0.0.1:7070/ws"


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("topic", help="the original topic (its DLQ is <topic>.DLQ)")
    parser.add_argument("--group", help="only records dead-lettered by this consumer group")
    parser.add_argument(
        "--broker",
        default=os.environ.get("BUS_URL", DEFAULT_BROKER),
        help="broker WebSocket URL (default: $BUS_URL or %(default)s)",
    )
    parser.add_argument(
        "--idle-ms",
        type=int,
        default=2000,
        help="stop after this long without a DLQ record (default: %(default)s)",
    )
    parser.add_argument("--max", type=int, default=None, help="replay at most this many")


async def replay(
    broker_url: str,
    topic: str,
    *,
    group: str | None,
    idle_ms: int,
    limit: int | None,
    token: str | None,
) -> int:
    """Replay ``topic``'s DLQ; returns how many records were re-published."""
    replay_group = REPLAY_GROUP if group is None else f"{REPLAY_GROUP}.{group}"
    options = SubscribeOptions(
        start="earliest", filter_header=(H_GROUP, group) if group is not None else None
    )
    replayed = 0
    async with WebSocketBusClient(broker_url, ClientConfig(token=token)) as bus:
        subscription = await bus.subscribe(dlq_topic(topic), replay_group, options=options)
        iterator = aiter(subscription)
        while limit is None or replayed < limit:
            try:
                message = await asyncio.wait_for(anext(iterator), idle_ms / 1000)
            except TimeoutError:
                break
            await _republish(bus, topic, message)
            await message.ack()
            replayed += 1
        await subscription.stop()
    return replayed


async def _republish(bus: WebSocketBusClient, topic: str, message: Message) -> None:
    headers = message.headers or {}
    original = headers.get(H_ORIGINAL_TOPIC, topic)
    replay_headers = strip_dlq_headers(headers)
    replay_headers["x-replayed-from"] = f"{message.topic}/{message.partition}/{message.offset}"
    await bus.publish(
        original,
        msgspec.Raw(message.raw_payload),
        key=message.key,
        headers=replay_headers,
        id=f"replay/{message.id}",
    )


def _run(args: argparse.Namespace) -> int:
    for name in (args.topic, args.group):
        if name is not None and not is_valid_name(name):
            print(f"promethean dlq replay: invalid name {name!r}", file=sys.stderr)
            return 2
    count = asyncio.run(
        replay(
            args.broker,
            args.topic,
            group=args.group,
            idle_ms=args.idle_ms,
            limit=args.max,
            token=os.environ.get("PROMETHEAN_BROKER_TOKEN") or None,
        )
    )
    print(f"replayed {count} event(s) from {dlq_topic(args.topic)}")
    return 0


REPLAY_COMMAND: Final = Command(
    "replay",
    "re-publish dead-lettered events onto their topic",
    _run,
    _configure,
)
DLQ_GROUP: Final = CommandGroup("dlq", "dead-letter queues", (REPLAY_COMMAND,))
