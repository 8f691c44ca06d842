"""``promethean tail TOPIC``: print a topic's events as they arrive.

Without ``--group`` it follows the broker's tail stream (``GET
/console/api/tail/{topic}``), reading the log without joining a consumer
group, so it moves nobody's offsets. With ``--group G`` it subscribes as a
member of ``G`` through the SDK and acks each event once printed (the group's
commit moves). ``--from`` is ``latest`` (default), ``earliest`` or an
offset; ``--key`` and ``--header name:value`` filter on the broker.
``--max N`` stops after N events and ``--for S`` after S seconds; otherwise
it runs until interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any, Final, Literal

import msgspec
from rich.markup import escape

from promethean.cli.broker import (
    CommandError,
    add_broker_option,
    broker_token,
    broker_url,
    run_admin,
)
from promethean.cli.commands import Command
from promethean.cli.output import add_output_option, print_json_line, say, wants_json
from promethean.client.admin import AdminClient, Event
from promethean.client.types import SubscribeOptions
from promethean.client.ws import ClientConfig, WebSocketBusClient

MAX_PAYLOAD_CHARS: Final = 200
"""A table line shows at most this much of a payload (JSON shows it all)."""


def start_of(text: str) -> tuple[Literal["latest", "earliest", "offset"], int | None]:
    if text in ("latest", "earliest"):
        return ("latest" if text == "latest" else "earliest"), None
    try:
        offset = int(text)
    except ValueError:
        raise CommandError(f"--from must be latest, earliest or an offset, not {text!r}") from None
    if offset < 0:
        raise CommandError("--from offset must not be negative")
    return "offset", offset


def header_of(text: str | None) -> tuple[str, str] | None:
    if text is None:
        return None
    name, sep, value = text.partition(":")
    if not sep or not name:
        raise CommandError(f"--header must be name:value, not {text!r}")
    return name, value


def line_of(event: Event) -> str:
    when = time.strftime("%H:%M:%S", time.localtime(event.ts / 1000))
    payload = msgspec.json.encode(event.payload).decode()
    if len(payload) > MAX_PAYLOAD_CHARS:
        payload = payload[: MAX_PAYLOAD_CHARS - 1] + "…"
    key = event.key if event.key is not None else "-"
    return (
        f"[dim]{when}[/] [cyan]{event.partition}/{event.offset}[/] "
        f"[yellow]{escape(key)}[/] {escape(payload)}"
    )


async def grouped(args: argparse.Namespace, admin: AdminClient) -> AsyncIterator[Event]:
    """Events delivered to ``args.group`` through the SDK, acked once yielded."""
    await admin.whoami()  # a bad token or an unreachable broker fails here, in one line
    start, offset = start_of(args.start)
    options = SubscribeOptions(
        start=start,
        start_value=offset,
        filter_key=args.key,
        filter_header=header_of(args.header),
    )
    async with WebSocketBusClient(broker_url(args), ClientConfig(token=broker_token())) as bus:
        subscription = await bus.subscribe(args.topic, args.group, options=options)
        try:
            async for message in subscription:
                try:
                    yield Event(
                        topic=message.topic,
                        partition=message.partition,
                        offset=message.offset,
                        id=message.id,
                        ts=message.ts,
                        key=message.key,
                        headers=message.headers,
                        payload=message.payload,
                    )
                finally:
                    # Also when the reader stops right after this event (--max).
                    await message.ack()
        finally:
            await subscription.stop()


def events(args: argparse.Namespace, admin: AdminClient) -> AsyncIterator[Event]:
    if args.group is not None:
        return grouped(args, admin)
    start, offset = start_of(args.start)
    return admin.tail(
        args.topic, start=start, offset=offset, key=args.key, header=header_of(args.header)
    )


def run(args: argparse.Namespace) -> int:
    async def follow(admin: AdminClient) -> int:
        seen = 0
        stream = events(args, admin)
        try:
            async for event in stream:
                if wants_json(args):
                    print_json_line(event)
                else:
                    say(line_of(event))
                seen += 1
                if args.max is not None and seen >= args.max:
                    return 0
        finally:
            with contextlib.suppress(Exception):
                await stream.aclose()  # type: ignore[attr-defined]
        raise CommandError(f"the broker closed the stream after {seen} event(s)")

    async def call(admin: AdminClient) -> int:
        if args.seconds is None:
            return await follow(admin)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(args.seconds):
                return await follow(admin)
        return 0

    return run_admin(args, "promethean tail", call)


def _positive(text: str) -> Any:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("topic", help="topic to follow")
    parser.add_argument(
        "--from",
        dest="start",
        default="latest",
        help="latest (default: only new events), earliest, or an offset",
    )
    parser.add_argument("--key", help="only events with this key")
    parser.add_argument("--header", help="only events carrying this header, as name:value")
    parser.add_argument(
        "--group", help="read as a member of this consumer group (acks, moves its offsets)"
    )
    parser.add_argument("--max", type=int, help="stop after this many events")
    parser.add_argument(
        "--for", dest="seconds", type=_positive, help="stop after this many seconds"
    )
    add_broker_option(parser)
    add_output_option(parser)


TAIL_COMMAND: Final = Command(
    name="tail",
    help="print a topic's events live (--from, --key, --header, --group)",
    run=run,
    configure=configure,
    description=(__doc__ or "").replace("``", ""),
)
