"""``promethean groups reset-offsets`` and ``promethean groups delete``: a
consumer group's offsets through the broker's admin API. Both are refused
(exit 1, the broker's reason on stderr) while the group has live members.

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

DEFAULT_BROKER: Final = f"ws://127.0.0.1:{DEFAULT_BUS_PORT}/ws"
EXIT_FAILED: Final = 1
RESET_TARGETS: Final = ("earliest", "latest", "offset", "timestamp")


def _run(args: argparse.Namespace, call: Any) -> int:
    url = args.broker or os.environ.get("BUS_URL", "").strip() or DEFAULT_BROKER
    token = os.environ.get("PROMETHEAN_BROKER_TOKEN") or None
    try:
        return int(asyncio.run(call(BrokerAdmin(admin_base_url(url), token))))
    except (ValueError, AdminError) as exc:
        print(f"promethean groups: {exc}", file=sys.stderr)
    except OSError as exc:
        print(f"promethean groups: cannot reach the broker: {exc}", file=sys.stderr)
    return EXIT_FAILED


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


def run_reset(args: argparse.Namespace) -> int:
    async def call(admin: BrokerAdmin) -> int:
        result = await admin.reset_offsets(args.group, reset_body(args))
        print(f"group {result['group']} on {result['topic']}: partition  committed")
        for partition, offset in sorted(result["offsets"].items(), key=lambda i: int(i[0])):
            print(f"  {partition:>9}  {offset}")
        return 0

    try:
        reset_body(args)
    except ValueError as exc:
        print(f"promethean groups: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return _run(args, call)


def run_delete(args: argparse.Namespace) -> int:
    async def call(admin: BrokerAdmin) -> int:
        result = await admin.delete_group(args.group, args.topic)
        print(f"deleted group {result['group']} on {result['topic']}")
        return 0

    return _run(args, call)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("group", help="consumer group name")
    parser.add_argument("--topic", required=True, help="topic the group reads")
    parser.add_argument(
        "--broker", help="broker URL (ws:// or http://); default BUS_URL or the local broker"
    )


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
GROUPS_GROUP: Final = CommandGroup(
    "groups", "consumer groups on the broker", (RESET_COMMAND, DELETE_COMMAND)
)
