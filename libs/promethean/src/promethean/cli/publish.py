"""``promethean publish TOPIC``: publish one payload, or many as JSON lines.

``promethean publish orders '{"id": 1}'`` publishes one event;
``--file events.jsonl`` (or ``--file -`` for stdin) publishes one event per
non-blank line, read as it is published. ``--key`` and ``--header name=value`` apply to every event;
with ``--envelope`` each line is ``{"payload": …, "key": …, "headers": {…},
"id": …}`` instead, so keys can differ per line. A progress bar runs on
stderr (while it is a terminal) and the final count is printed. A file is
checked before the first publish, so a line that is not JSON publishes
nothing; on stdin, a bad line stops the command where it is (the error says
how many events went before it).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, TextIO

import msgspec

from promethean.cli.broker import (
    CommandError,
    add_broker_option,
    broker_token,
    broker_url,
    run_admin,
)
from promethean.cli.commands import Command
from promethean.cli.output import add_output_option, print_json, progress, say, wants_json
from promethean.client.admin import AdminClient
from promethean.client.ws import ClientConfig, WebSocketBusClient

WINDOW: Final = 256
"""Publishes awaited together; bounds what is in flight at once."""


class Draft(msgspec.Struct, forbid_unknown_fields=True):
    """One line of ``--envelope`` input."""

    payload: Any
    key: str | None = None
    headers: dict[str, str] | None = None
    id: str | None = None


def header_pairs(items: list[str] | None) -> dict[str, str] | None:
    if not items:
        return None
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise CommandError(f"--header must be name=value, not {item!r}")
        out[name] = value
    return out


def parse_line(text: str, number: int, *, envelope: bool) -> Draft:
    try:
        if envelope:
            return msgspec.json.decode(text, type=Draft)
        return Draft(payload=msgspec.json.decode(text))
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise CommandError(f"line {number} is not a valid event: {exc}") from None


@contextmanager
def drafts_of(args: argparse.Namespace) -> Iterator[tuple[Iterator[Draft], int | None]]:
    """The events to publish, read as they are published (memory stays
    bounded), and how many there are when that is known in advance. A file
    is checked in full first, so a bad line publishes nothing."""
    envelope = args.envelope
    if args.payload is not None:
        if args.file is not None:
            raise CommandError("give a PAYLOAD or --file, not both")
        yield iter([parse_line(args.payload, 1, envelope=envelope)]), 1
        return
    if args.file is None:
        raise CommandError("give a PAYLOAD, or --file PATH (--file - for stdin)")
    if args.file == "-":
        yield _drafts(sys.stdin, envelope=envelope), None
        return
    path = Path(args.file)
    try:
        with path.open(encoding="utf-8") as lines:
            total = sum(1 for _ in _drafts(lines, envelope=envelope))
        with path.open(encoding="utf-8") as lines:
            yield _drafts(lines, envelope=envelope), total
    except FileNotFoundError:
        raise CommandError(f"no such file {args.file}") from None


def _drafts(lines: TextIO, *, envelope: bool) -> Iterator[Draft]:
    for number, text in enumerate(lines, start=1):
        if text.strip():
            yield parse_line(text, number, envelope=envelope)


async def publish_all(
    args: argparse.Namespace,
    drafts: Iterator[Draft],
    total: int | None,
    headers: dict[str, str] | None,
) -> int:
    published = 0
    config = ClientConfig(token=broker_token())
    async with WebSocketBusClient(broker_url(args), config) as bus:
        with progress(f"publishing to {args.topic}", total) as advance:
            while True:
                try:
                    window = list(itertools.islice(drafts, WINDOW))
                except CommandError as exc:  # a bad line on stdin, after earlier windows
                    before = f"{published} event(s) published before it"
                    raise CommandError(f"{exc} ({before})") from None
                if not window:
                    return published
                # Issued in one loop turn, in order: the SDK sends them as one batch.
                await asyncio.gather(
                    *(
                        bus.publish(
                            args.topic,
                            draft.payload,
                            key=draft.key if draft.key is not None else args.key,
                            headers={**(headers or {}), **(draft.headers or {})} or None,
                            id=draft.id,
                        )
                        for draft in window
                    )
                )
                published += len(window)
                advance(len(window))


def run(args: argparse.Namespace) -> int:
    async def call(admin: AdminClient) -> int:
        headers = header_pairs(args.header)
        with drafts_of(args) as (drafts, total):
            await admin.whoami()  # a bad token or an unreachable broker fails here, in one line
            count = await publish_all(args, drafts, total, headers)
        if wants_json(args):
            print_json({"topic": args.topic, "published": count})
        else:
            say(f"published [bold]{count}[/] event(s) to {args.topic}")
        return 0

    return run_admin(args, "promethean publish", call)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("topic", help="topic to publish to")
    parser.add_argument("payload", nargs="?", help="one JSON payload (else use --file)")
    parser.add_argument("--file", "-f", help="JSON lines to publish, one event each; - for stdin")
    parser.add_argument("--key", help="partition key of every event")
    parser.add_argument(
        "--header", action="append", help="header name=value on every event (repeatable)"
    )
    parser.add_argument(
        "--envelope",
        action="store_true",
        help='each line is {"payload", "key", "headers", "id"} rather than a bare payload',
    )
    add_broker_option(parser)
    add_output_option(parser)


PUBLISH_COMMAND: Final = Command(
    name="publish",
    help="publish one JSON payload, or many from a file or stdin as JSON lines",
    run=run,
    configure=configure,
    description=(__doc__ or "").replace("``", ""),
)
