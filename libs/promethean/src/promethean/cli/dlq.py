"""``promethean dlq list [TOPIC]`` and ``promethean dlq replay <topic>
[--group G] [--dry-run]``: inspect dead-lettered events and put them back on
their topic.

``dlq list`` shows every DLQ with its depth, or one topic's DLQ records
(``GET /dlq``, ``GET /dlq/{topic}`` through the admin client).

The replay reads ``<topic>.DLQ`` as its own consumer group
(``promethean-dlq-replay[.<group>]``), re-publishes each record without its
``x-dlq-*`` headers under the id ``replay/<dlq id>``, and acks it once the
publish is durable. The group's commit remembers how far a replay got and the
derived id makes a re-published record idempotent, so running the command
twice replays nothing twice. ``--dry-run`` lists the records a replay would
re-publish (those not yet replayed, of ``--group`` if given) and changes
nothing.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from typing import Any, Final

import msgspec

from promethean.bus.dlq import H_GROUP, H_ORIGINAL_TOPIC, strip_dlq_headers
from promethean.cli.broker import (
    add_broker_option,
    broker_token,
    broker_url,
    run_admin,
)
from promethean.cli.commands import Command, CommandGroup
from promethean.cli.output import (
    add_output_option,
    fail,
    print_json,
    print_table,
    progress,
    say,
    wants_json,
)
from promethean.client.admin import AdminClient, DlqRecord
from promethean.client.types import Message, SubscribeOptions
from promethean.client.ws import ClientConfig, WebSocketBusClient
from promethean.names import dlq_topic, is_valid_name

REPLAY_GROUP: Final = "promethean-dlq-replay"
EXIT_BAD_NAME: Final = 2
PAGE: Final = 200
RECORD_COLUMNS: Final = (
    "partition",
    "offset",
    "id",
    "key",
    "group",
    "attempts",
    "reason",
    "original",
    "replayed",
)


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("topic", help="the original topic (its DLQ is <topic>.DLQ)")
    parser.add_argument("--group", help="only records dead-lettered by this consumer group")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="list what would be replayed, publish nothing",
    )
    add_broker_option(parser)
    add_output_option(parser)
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
    on_replayed: Callable[[], None] | None = None,
) -> int:
    """Replay ``topic``'s DLQ; returns how many records were re-published
    (``on_replayed`` is called after each)."""
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
            if on_replayed is not None:
                on_replayed()
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


async def pending(
    admin: AdminClient, topic: str, *, group: str | None, limit: int | None
) -> list[DlqRecord]:
    """The records of ``topic``'s DLQ a replay would re-publish: not yet
    replayed and (with ``group``) dead-lettered by that group."""
    found: list[DlqRecord] = []
    start: dict[int, int] = {}
    while limit is None or len(found) < limit:
        page = await admin.dlq_records(topic, limit=PAGE, start=start)
        found += [r for r in page.records if not r.replayed and group in (None, r.group)]
        following = {int(p): o for p, o in page.next.items()}
        if not page.records or following == start:
            break
        start = following
    return found if limit is None else found[:limit]


def record_row(record: DlqRecord) -> list[Any]:
    original = record.original
    where = f"{original.topic}/{original.partition}/{original.offset}" if original else None
    return [
        record.partition,
        record.offset,
        record.id,
        record.key,
        record.group,
        record.attempts,
        record.reason,
        where,
        record.replayed,
    ]


async def _depth(admin: AdminClient, topic: str) -> int | None:
    return next((d.depth for d in await admin.dlqs() if d.topic == topic), None)


def _run(args: argparse.Namespace) -> int:
    for name in (args.topic, args.group):
        if name is not None and not is_valid_name(name):
            fail("promethean dlq replay", f"invalid name {name!r}")
            return EXIT_BAD_NAME

    async def call(admin: AdminClient) -> int:
        if args.dry_run:
            records = await pending(admin, args.topic, group=args.group, limit=args.max)
            if wants_json(args):
                print_json({"topic": args.topic, "would_replay": len(records), "records": records})
            else:
                print_table(RECORD_COLUMNS, map(record_row, records))
                say(f"would replay {len(records)} event(s) from {dlq_topic(args.topic)}")
            return 0
        await admin.whoami()  # a bad token or an unreachable broker fails here, in one line
        total = await _depth(admin, args.topic)
        with progress(f"replaying {dlq_topic(args.topic)}", total) as advance:
            count = await replay(
                broker_url(args),
                args.topic,
                group=args.group,
                idle_ms=args.idle_ms,
                limit=args.max,
                token=broker_token(),
                on_replayed=advance,
            )
        if wants_json(args):
            print_json({"topic": args.topic, "dlq": dlq_topic(args.topic), "replayed": count})
        else:
            say(f"replayed {count} event(s) from {dlq_topic(args.topic)}")
        return 0

    return run_admin(args, "promethean dlq replay", call)


def _run_list(args: argparse.Namespace) -> int:
    if args.topic is not None and not is_valid_name(args.topic):
        fail("promethean dlq list", f"invalid name {args.topic!r}")
        return EXIT_BAD_NAME

    async def call(admin: AdminClient) -> int:
        if args.topic is None:
            dlqs = sorted(await admin.dlqs(), key=lambda d: d.topic)
            if wants_json(args):
                print_json(dlqs)
            else:
                print_table(
                    ("topic", "dlq", "depth", "partitions"),
                    ([d.topic, d.dlq, d.depth, d.partitions] for d in dlqs),
                )
            return 0
        page = await admin.dlq_records(args.topic, limit=args.limit)
        if wants_json(args):
            print_json(page)
        else:
            print_table(RECORD_COLUMNS, map(record_row, page.records))
            say(f"{page.dlq}: {page.depth} record(s), {len(page.records)} shown")
        return 0

    return run_admin(args, "promethean dlq list", call)


def _configure_list(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("topic", nargs="?", help="show this topic's DLQ records")
    parser.add_argument(
        "--limit", type=int, default=PAGE, help="records to show (default: %(default)s)"
    )
    add_broker_option(parser)
    add_output_option(parser)


REPLAY_COMMAND: Final = Command(
    "replay",
    "re-publish dead-lettered events onto their topic (--dry-run lists them)",
    _run,
    _configure,
)
LIST_COMMAND: Final = Command(
    "list",
    "every DLQ with its depth, or one topic's dead-lettered records",
    _run_list,
    _configure_list,
)
DLQ_GROUP: Final = CommandGroup("dlq", "dead-letter queues", (LIST_COMMAND, REPLAY_COMMAND))
