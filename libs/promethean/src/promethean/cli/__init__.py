"""The ``promethean`` command.

Commands are rows of :data:`COMMANDS`. ``dev`` runs the local stack. The
admin commands join as groups, each in its own module, for example::

    # promethean/cli/dlq.py
    DLQ_GROUP = CommandGroup("dlq", "dead-letter queues", (REPLAY_COMMAND,))
    # promethean/cli/topics.py
    TOPICS_GROUP = CommandGroup("topics", "topics on the broker", (LIST_COMMAND, ...))

and are then appended to :data:`COMMANDS`; nothing else changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from promethean.cli.commands import Command, CommandGroup, build_parser, run_command
from promethean.cli.console_url import CONSOLE_COMMAND
from promethean.cli.dev import DEV_COMMAND
from promethean.cli.dlq import DLQ_GROUP
from promethean.cli.groups import GROUPS_GROUP, LAG_COMMAND
from promethean.cli.publish import PUBLISH_COMMAND
from promethean.cli.schemas import ASYNCAPI_COMMAND, SCHEMAS_GROUP
from promethean.cli.tail import TAIL_COMMAND
from promethean.cli.token import TOKEN_GROUP
from promethean.cli.topics import TOPICS_GROUP

DESCRIPTION: Final = "Promethean Event Bus command line."

COMMANDS: Final[tuple[Command | CommandGroup, ...]] = (
    DEV_COMMAND,
    DLQ_GROUP,
    TOPICS_GROUP,
    SCHEMAS_GROUP,
    ASYNCAPI_COMMAND,
    GROUPS_GROUP,
    LAG_COMMAND,
    TAIL_COMMAND,
    PUBLISH_COMMAND,
    TOKEN_GROUP,
    CONSOLE_COMMAND,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser("promethean", DESCRIPTION, COMMANDS)
    return run_command(parser, argv)


__all__ = ["COMMANDS", "Command", "CommandGroup", "main"]
