"""``promethean topics list``, ``set`` and ``delete``: the broker's topic
configs through its admin API (``GET``/``POST /topics``, ``DELETE
/topics/{topic}``).

The broker and token are chosen as in `promethean.cli.broker`; ``--output
json`` prints the stored configs as JSON.
"""

from __future__ import annotations

import argparse
from typing import Any, Final

from promethean.cli.broker import add_broker_option, run_admin
from promethean.cli.commands import Command, CommandGroup
from promethean.cli.output import add_output_option, print_json, print_table, say, wants_json
from promethean.client.admin import AdminClient
from promethean.store.records import Cleanup, TopicConfig

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


def show_topics(args: argparse.Namespace, topics: list[TopicConfig]) -> None:
    ordered = sorted(topics, key=lambda t: t.name)
    if wants_json(args):
        print_json(ordered)
        return
    print_table(LIST_COLUMNS, ([getattr(t, c) for c in LIST_COLUMNS] for t in ordered))


def run_list(args: argparse.Namespace) -> int:
    async def call(admin: AdminClient) -> int:
        show_topics(args, await admin.topics())
        return 0

    return run_admin(args, "promethean topics list", call)


def topic_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The body of ``POST /topics``: the name and only the options given."""
    body: dict[str, Any] = {"name": args.topic}
    for field in SETTABLE:
        value = getattr(args, field)
        if value is not None:
            body[field] = str(value) if isinstance(value, Cleanup) else value
    return body


def run_set(args: argparse.Namespace) -> int:
    async def call(admin: AdminClient) -> int:
        changes = topic_changes(args)
        show_topics(args, [await admin.put_topic(changes.pop("name"), **changes)])
        return 0

    return run_admin(args, "promethean topics set", call)


def run_delete(args: argparse.Namespace) -> int:
    async def call(admin: AdminClient) -> int:
        deleted = await admin.delete_topic(args.topic, dlq=args.dlq)
        if wants_json(args):
            print_json({"topic": args.topic, "deleted": deleted, "dlq": args.dlq})
        else:
            dlq = " and its DLQ" if args.dlq else ""
            say(f"deleted topic {args.topic}{dlq}")
        return 0

    return run_admin(args, "promethean topics delete", call)


def _configure_delete(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("topic", help="topic name")
    parser.add_argument("--dlq", action="store_true", help="also delete <topic>.DLQ")
    _broker_option(parser)


def _broker_option(parser: argparse.ArgumentParser) -> None:
    add_broker_option(parser)
    add_output_option(parser)


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
