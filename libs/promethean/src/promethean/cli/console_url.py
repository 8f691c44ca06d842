"""``promethean console``: the web console's URL on the chosen broker,
printed, and opened in a browser with ``--open``."""

from __future__ import annotations

import argparse
import webbrowser
from typing import Final

from promethean.cli.broker import add_broker_option, broker_url
from promethean.cli.commands import Command
from promethean.cli.output import add_output_option, fail, print_json, wants_json
from promethean.client.admin import admin_base_url

CONSOLE_PATH: Final = "/console/"


def console_url(broker: str) -> str:
    return admin_base_url(broker) + CONSOLE_PATH


def run(args: argparse.Namespace) -> int:
    try:
        url = console_url(broker_url(args))
    except ValueError as exc:
        return fail("promethean console", str(exc))
    opened = bool(args.open) and webbrowser.open(url)
    if wants_json(args):
        print_json({"url": url, "opened": opened})
    else:
        print(url, flush=True)
    if args.open and not opened:
        return fail("promethean console", "no browser could be started; open the URL above")
    return 0


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--open", action="store_true", help="open it in the default browser")
    add_broker_option(parser)
    add_output_option(parser)


CONSOLE_COMMAND: Final = Command(
    name="console",
    help="print the web console's URL (--open opens it)",
    run=run,
    configure=configure,
)
