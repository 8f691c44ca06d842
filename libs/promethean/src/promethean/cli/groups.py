"""``promethean groups list|describe|reset-offsets|delete`` and ``promethean
lag``: consumer groups through the broker's admin API. Reset and delete are
refused (exit 1, the broker's reason on stderr) while the group has live
members; describe and ``lag --group`` exit 1 for a group the broker does not
know.
"""

from __future__ import annotations

import argparse
from typing import Any, Final

from promethean.cli.broker import CommandError, add_broker_option, run_admin
from promethean.cli.commands import Command, CommandGroup
from promethean.cli.output import add_output_option, print_json, print_table, say, wants_json
from promethean.client.admin import AdminClient, Group, ResetTarget
from promethean.names import is_valid_name

RESET_TARGETS: Final = ("earliest", "latest", "offset", "timestamp")
ROW_COLUMNS: Final = ("group", "topic", "lag", "inflight", "subscribers")
PARTITION_COLUMNS: Final = ("topic", "partition", "committed", "latest", "lag", "inflight")


def reset_body(args: argparse.Namespace) -> dict[str, Any]:
    """The body of ``POST /groups/{group}/reset-offsets``."""
    if args.to in ("offset", "timestamp") and args.value is None:
        raise ValueError(f"--to {args.to} needs --value")
    body: dict[str, Any] = {"topic": args.topic, "to": args.to}
    if args.value is not None:
        body["value"] = args.value
    if args.partition:
        body["partitions"] = sorted(set(args.partition))
    return body


async def known_group(admin: AdminClient, name: str) -> Group:
    """``GET /groups/{name}``; `CommandError` when the broker knows nothing
    of it (no members, no commits)."""
    if not is_valid_name(name):
        raise CommandError(f"invalid group name {name!r}")
    group = await admin.group(name)
    if not (group.members or group.topics or group.generation or group.subscribers):
        raise CommandError(f"unknown group {name!r}: no members and no committed offsets")
    return group


def partition_rows(group: Group, topic: str | None = None) -> list[list[Any]]:
    return [
        [t.topic, p.partition, p.committed, p.latest, p.lag, p.inflight]
        for t in group.topics
        if topic is None or t.topic == topic
        for p in t.partitions
    ]


def run_list(args: argparse.Namespace) -> int:
    async def call(admin: AdminClient) -> int:
        rows = sorted(await admin.group_rows(), key=lambda r: (r.group, r.topic))
        if args.topic:
            rows = [r for r in rows if r.topic == args.topic]
        if wants_json(args):
            print_json(rows)
        else:
            print_table(ROW_COLUMNS, ([getattr(r, c) for c in ROW_COLUMNS] for r in rows))
        return 0

    return run_admin(args, "promethean groups list", call)


def run_describe(args: argparse.Namespace) -> int:
    async def call(admin: AdminClient) -> int:
        group = await known_group(admin, args.group)
        if wants_json(args):
            print_json(group)
            return 0
        say(
            f"[bold]group {group.group}[/]  generation {group.generation}  "
            f"subscribers {group.subscribers}"
        )
        print_table(PARTITION_COLUMNS, partition_rows(group), title="offsets")
        assigned = {
            member: ", ".join(f"{t}:{','.join(map(str, ps))}" for t, ps in sorted(by.items()))
            for member, by in group.assignment.items()
        }
        if not group.members:
            say("no live members")
            return 0
        print_table(
            ("member", "instance", "topics", "assigned", "expires_at_ms"),
            (
                [
                    m.member_id,
                    m.instance_id,
                    ",".join(m.topics),
                    assigned.get(m.member_id),
                    m.expires_at_ms,
                ]
                for m in group.members
            ),
            title="members",
        )
        return 0

    return run_admin(args, "promethean groups describe", call)


def run_lag(args: argparse.Namespace) -> int:
    async def call(admin: AdminClient) -> int:
        if args.group is None:
            rows = [r for r in await admin.group_rows() if args.topic in (None, r.topic)]
            rows.sort(key=lambda r: (-r.lag, r.group, r.topic))
            if wants_json(args):
                print_json(rows)
            else:
                print_table(ROW_COLUMNS, ([getattr(r, c) for c in ROW_COLUMNS] for r in rows))
            return 0
        group = await known_group(admin, args.group)
        topics = [t for t in group.topics if args.topic in (None, t.topic)]
        if args.topic is not None and not topics:
            raise CommandError(f"group {args.group!r} has no offsets on topic {args.topic!r}")
        if wants_json(args):
            print_json({"group": group.group, "lag": sum(t.lag for t in topics), "topics": topics})
            return 0
        print_table(PARTITION_COLUMNS, partition_rows(group, args.topic))
        say(f"total lag of {group.group}: [bold]{sum(t.lag for t in topics)}[/]")
        return 0

    return run_admin(args, "promethean lag", call)


def run_reset(args: argparse.Namespace) -> int:
    async def call(admin: AdminClient) -> int:
        body = reset_body(args)
        target: ResetTarget = args.to
        result = await admin.reset_offsets(
            args.group, args.topic, to=target, value=args.value, partitions=body.get("partitions")
        )
        if wants_json(args):
            print_json(result)
            return 0
        say(f"group {result.group} on {result.topic}:")
        offsets = sorted(result.offsets.items(), key=lambda i: int(i[0]))
        print_table(("partition", "committed"), offsets)
        return 0

    return run_admin(args, "promethean groups reset-offsets", call)


def run_delete(args: argparse.Namespace) -> int:
    async def call(admin: AdminClient) -> int:
        deleted = await admin.delete_group(args.group, args.topic)
        if wants_json(args):
            print_json({"group": args.group, "topic": args.topic, "deleted": deleted})
        else:
            say(f"deleted group {args.group} on {args.topic}")
        return 0

    return run_admin(args, "promethean groups delete", call)


def _options(parser: argparse.ArgumentParser) -> None:
    add_broker_option(parser)
    add_output_option(parser)


def _configure_list(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--topic", help="only groups reading this topic")
    _options(parser)


def _configure_describe(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("group", help="consumer group name")
    _options(parser)


def _configure_lag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--group", help="one group, partition by partition")
    parser.add_argument("--topic", help="only this topic")
    _options(parser)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("group", help="consumer group name")
    parser.add_argument("--topic", required=True, help="topic the group reads")
    _options(parser)


def _configure_reset(parser: argparse.ArgumentParser) -> None:
    _common(parser)
    parser.add_argument("--to", required=True, choices=RESET_TARGETS, help="where to move to")
    parser.add_argument(
        "--value",
        type=int,
        help="with --to offset: the next offset to deliver; with --to timestamp: epoch ms",
    )
    parser.add_argument(
        "--partition",
        type=int,
        action="append",
        help="only this partition (repeatable); default every partition",
    )


RESET_COMMAND: Final = Command(
    name="reset-offsets",
    help="move a stopped group's offsets (earliest, latest, an offset, a time)",
    run=run_reset,
    configure=_configure_reset,
    description=(
        "Set GROUP's committed offsets on --topic (POST /groups/{group}/reset-offsets). "
        "Refused while the group has live members: stop its consumers first."
    ),
)
DELETE_COMMAND: Final = Command(
    name="delete",
    help="delete a stopped group's offsets on a topic",
    run=run_delete,
    configure=_common,
    description="Delete GROUP's commits on --topic (DELETE /groups/{group}?topic=).",
)
LIST_COMMAND: Final = Command(
    name="list",
    help="every group and topic with its lag, in-flight count and subscribers",
    run=run_list,
    configure=_configure_list,
)
DESCRIBE_COMMAND: Final = Command(
    name="describe",
    help="one group: its offsets and lag per partition, its members and assignment",
    run=run_describe,
    configure=_configure_describe,
)
GROUPS_GROUP: Final = CommandGroup(
    "groups",
    "consumer groups on the broker",
    (LIST_COMMAND, DESCRIBE_COMMAND, RESET_COMMAND, DELETE_COMMAND),
)
LAG_COMMAND: Final = Command(
    name="lag",
    help="how far consumer groups are behind, most behind first",
    run=run_lag,
    configure=_configure_lag,
    description=(
        "Every group's lag per topic, most behind first; with --group, that "
        "group's lag partition by partition (exit 1 for an unknown group)."
    ),
)
