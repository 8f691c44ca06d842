"""Which broker a command talks to, and how its refusals become one line.

The broker is ``--broker`` (a ``ws://`` or ``http://`` URL), else
``BUS_URL``, else the local broker; the bearer token is
``PROMETHEAN_BROKER_TOKEN``. Every admin call goes through
`promethean.client.admin.AdminClient`; `run_admin` turns its typed errors
(unreachable broker, bad token, unknown name, conflict) into one line on
stderr and exit code 1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Final

from promethean.cli.output import fail
from promethean.client.admin import (
    AdminClient,
    AdminError,
    AdminUnauthorizedError,
    AdminUnavailableError,
)
from promethean.settings import DEFAULT_BUS_PORT

DEFAULT_BROKER: Final = f"ws://127.0.0.1:{DEFAULT_BUS_PORT}/ws"
EXIT_INTERRUPTED: Final = 130
"""Ctrl-C, as shells report it (128 + SIGINT)."""

AdminCall = Callable[[AdminClient], Awaitable[int]]


class CommandError(Exception):
    """A command's own refusal (e.g. an unknown group): printed as one line."""


def add_broker_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--broker", help="broker URL (ws:// or http://); default BUS_URL or the local broker"
    )


def broker_url(args: argparse.Namespace) -> str:
    given: str | None = getattr(args, "broker", None)
    return given or os.environ.get("BUS_URL", "").strip() or DEFAULT_BROKER


def broker_token() -> str | None:
    return os.environ.get("PROMETHEAN_BROKER_TOKEN") or None


def describe_error(exc: BaseException) -> str:
    """The one line a user sees for a failed call."""
    if isinstance(exc, AdminUnavailableError) and exc.status == 0:
        return f"cannot reach the broker at {exc.reason}"
    if isinstance(exc, AdminUnauthorizedError):
        return f"the broker refused the token (PROMETHEAN_BROKER_TOKEN): {exc}"
    if isinstance(exc, OSError):
        return f"cannot reach the broker: {exc}"
    return str(exc)


def run_admin(args: argparse.Namespace, command: str, call: AdminCall) -> int:
    """Run ``call`` with an admin client on the chosen broker; typed
    refusals become one line on stderr and exit 1."""

    async def session() -> int:
        async with AdminClient(broker_url(args), broker_token()) as admin:
            return await call(admin)

    try:
        return asyncio.run(session())
    except (AdminError, CommandError, ValueError, OSError) as exc:
        return fail(command, describe_error(exc))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
