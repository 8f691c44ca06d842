"""The ``promethean`` command line as a table of commands.

A :class:`Command` is one leaf (``promethean dev``); a :class:`CommandGroup`
nests leaves under a word (``promethean dlq replay``, ``promethean topics
list``). Adding a command means adding a row to ``COMMANDS`` in
:mod:`promethean.cli`, never editing the parser code here.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

Handler = Callable[[argparse.Namespace], int]
"""Runs a parsed command; returns the process exit code."""


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    help: str
    run: Handler
    configure: Callable[[argparse.ArgumentParser], None] = lambda parser: None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class CommandGroup:
    name: str
    help: str
    commands: Sequence[Command | CommandGroup] = field(default_factory=tuple)


def build_parser(
    prog: str, description: str, commands: Sequence[Command | CommandGroup]
) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    _add_commands(parser, commands, depth=0)
    return parser


def _add_commands(
    parser: argparse.ArgumentParser, commands: Sequence[Command | CommandGroup], depth: int
) -> None:
    subparsers = parser.add_subparsers(dest=f"command_{depth}", metavar="COMMAND", required=True)
    for entry in commands:
        if isinstance(entry, CommandGroup):
            group_parser = subparsers.add_parser(
                entry.name, help=entry.help, description=entry.help
            )
            _add_commands(group_parser, entry.commands, depth + 1)
        else:
            leaf = subparsers.add_parser(
                entry.name, help=entry.help, description=entry.description or entry.help
            )
            entry.configure(leaf)
            leaf.set_defaults(handler=entry.run)


def run_command(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    return handler(args)
