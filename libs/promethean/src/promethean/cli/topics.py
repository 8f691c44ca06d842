"""``promethean topics list``, ``set`` and ``delete``: the broker's topic
configs through its admin API (``GET``/``POST /topics``, ``DELETE
/topics/{topic}``).

The broker is ``--broker`` (a ``ws://`` or ``http://`` URL), else ``BUS_URL``,
else the default local broker; the bearer token is ``PROMETHEAN_BROKER_TOKEN``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any, Final

from promethean.cli.broker_admin import AdminError, BrokerAdmin, admin_base_url
from promethean.cli.commands import Command, CommandGroup
from promethean.settings import DEFAULT_BUS_PORT
from promethean.store.records import Cleanup

DEFAULT_BROKER: Final = f"ws://127.0.0.1:{DEFAULT_BUS_PORT}/ws"
EXIT_FAILED: Final = 1
LIST_COLUMNS: Final = (
    "name",
    "partitions",
    "cleanup",
    "retention_ms",
    "retention_events",
    "retention_force",
    "tombstone_retention_ms",
    "snapshot_every",
    "compact_beyond_commits",
    "validate",
)
SETTABLE: Final = (
    "partitions",
    "max_attempts",
    "cleanup",
    "retention_ms",
    "retention_events",
    "retention_force",
    "tombstone_retention_ms",
    "snapshot_every",
    "compact_beyond_commits",
    "validate",
)


def _admin(args: argparse.Namespace) -> BrokerAdmin:
    url = args.broker or os.environ.get("BUS_URL", "").strip() or DEFAULT_BROKER
    token = os.environ.get("PROMETHEAN_BROKER_TOKEN") or None
    return BrokerAdmin(admin_base_url(url), token)


def _run(args: argparse.Namespace, call: Any) -> int:
    try:
        admin = _admin(args)
        return int(asyncio.run(call(admin)))
    except ValueError as exc:
        print(f"promethean topics: {exc}", file=sys.stderr)
    except AdminError as exc:
        print(f"promethean topics: {exc}", file=sys.stderr)
    except OSError as exc:
        print(f"promethean topics: cannot reach the broker: {exc}", file=sys.stderr)
    return EXIT_FAILED


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def format_table(topics: list[dict[str, Any]]) -> str:
    rows = [list(LIST_COLUMNS)]
    rows += [[_cell(t.get(c)) for c in LIST_COLUMNS] for t in sorted(topics, key=_name)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(LIST_COLUMNS))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def _name(topic: dict[str, Any]) -> str:
    return str(topic.get("name", ""))


def run_list(args: argparse.Namespace) -> int:
    async def call(admin: BrokerAdmin) -> int:
        print(format_table(await admin.list_topics()))
        return 0

    return _run(args, call)


def topic_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The body of ``POST /topics``: the name and only the options given."""
    body: dict[str, Any] = {"name": args.topic}
    for field in SETTABLE:
        value = getattr(args, field)
        if value is not None:
            body[field] = str(value) if isinstance(value, Cleanup) else value
    return body


def run_set(args: argparse.Namespace) -> int:
    async def call(admin: BrokerAdmin) -> int:
        stored = await admin.put_topic(topic_changes(args))
        print(format_table([stored]))
        return 0

    return _run(args, call)


def run_delete(args: argparse.Namespace) -> int:
    async def call(admin: BrokerAdmin) -> int:
        result = await admin.delete_topic(args.topic, dlq=args.dlq)
        dlq = " and its DLQ" if result.get("dlq_deleted") else ""
        print(f"deleted topic {result['topic']}{dlq}")
        return 0

    return _run(args, call)


def _configure_delete(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("topic", help="topic name")
    parser.add_argument("--dlq", action="store_true", help="also delete <topic>.DLQ")
    _broker_option(parser)


def _broker_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--broker", help="broker URL (ws:// or http://); default BUS_URL or the local broker"
    )


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _configure_set(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("topic", help="topic name")
    parser.add_argument("--partitions", type=int, help="partition count (grows, never shrinks)")
    parser.add_argument("--max-attempts", type=int, help="deliveries before the DLQ")
    parser.add_argument(
        "--cleanup", type=Cleanup, choices=list(Cleanup), help="delete, compact or compact,delete"
    )
    parser.add_argument("--retention-ms", type=_non_negative, help="delete events older than this")
    parser.add_argument(
        "--retention-events", type=_non_negative, help="keep this many newest offsets per partition"
    )
    parser.add_argument(
        "--retention-force",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="let retention delete events a group has not consumed",
    )
    parser.add_argument(
        "--tombstone-retention-ms", type=_non_negative, help="keep tombstones this long"
    )
    parser.add_argument(
        "--snapshot-every", type=_non_negative, help="publish <topic>.snapshot every N new events"
    )
    parser.add_argument(
        "--compact-beyond-commits",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="compact past the lowest committed offset of the topic's groups",
    )
    parser.add_argument(
        "--validate",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="check every payload against the latest schema of <topic>-value",
    )
    _broker_option(parser)


LIST_COMMAND: Final = Command(
    name="list", help="list topics and their configs", run=run_list, configure=_broker_option
)
SET_COMMAND: Final = Command(
    name="set",
    help="create a topic or change its config",
    run=run_set,
    configure=_configure_set,
    description=(
        "Create TOPIC or update the given options (POST /topics on the broker); "
        "options not given keep their stored value."
    ),
)
DELETE_COMMAND: Final = Command(
    name="delete",
    help="delete a topic: its events, config and every group's offsets",
    run=run_delete,
    configure=_configure_delete,
    description=(
        "Delete TOPIC (DELETE /topics/{topic} on the broker); refused while any "
        "group reads it. --dlq deletes <topic>.DLQ too."
    ),
)
TOPICS_GROUP: Final = CommandGroup(
    "topics", "topics on the broker", (LIST_COMMAND, SET_COMMAND, DELETE_COMMAND)
)
