"""``promethean dev``: run the local stack in the foreground.

Defaults suited to one machine are filled in only where the user set
nothing: the SQLite store under ``./.promethean/`` (unless a MongoDB URL was
given), binding to 127.0.0.1, and dev mode. Ctrl-C or SIGTERM stops every
service; the command exits 0 when all of them stopped cleanly.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from promethean.cli.commands import Command
from promethean.cli.services import STACK, ServiceSpec, listen_lines
from promethean.cli.supervisor import Supervisor
from promethean.errors import SettingsError
from promethean.settings import (
    DEFAULT_BUS_PORT,
    EXIT_BAD_SETTING,
    CommonSettings,
    settings_error_line,
)
from promethean.store.factory import DEFAULT_SQLITE_URL

PROG: Final = "promethean"
DEV_DEFAULTS: Final = {
    "PROMETHEAN_HOST": "127.0.0.1",
    "PROMETHEAN_DEV": "1",
    "PYTHONUNBUFFERED": "1",
    "WS_TOKEN": "dev-token",
}
"""``WS_TOKEN`` is the gateway's static dev token (accepted only because
``PROMETHEAN_DEV=1``): ``{"op": "AUTH", "token": "dev-token"}``."""
STOP_MARGIN_MS: Final = 5_000
SQLITE_PREFIX: Final = "sqlite:///"


def dev_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` with the local-stack defaults added where nothing was set."""
    env = dict(environ)
    for name, value in DEV_DEFAULTS.items():
        if not env.get(name, "").strip():
            env[name] = value
    if not env.get("BUS_URL", "").strip():
        port = env.get("BUS_PORT", "").strip() or str(DEFAULT_BUS_PORT)
        env["BUS_URL"] = f"ws://127.0.0.1:{port}/ws"
    if not env.get("PROMETHEAN_STORE", "").strip() and not env.get("MONGO_URL", "").strip():
        env["PROMETHEAN_STORE"] = DEFAULT_SQLITE_URL
    return env


def ensure_sqlite_dir(store_url: str, cwd: Path) -> None:
    """Create the directory a ``sqlite:///`` store file goes in."""
    if store_url.startswith(SQLITE_PREFIX):
        path = Path(store_url.removeprefix(SQLITE_PREFIX).split("?", 1)[0])
        (cwd / path).parent.mkdir(parents=True, exist_ok=True)


def run_stack(specs: Sequence[ServiceSpec], environ: Mapping[str, str]) -> int:
    """Run ``specs`` with ``environ`` (already holding the dev defaults)."""
    try:
        common = CommonSettings.from_env(environ, service=PROG)
        lines = listen_lines(specs, environ)
    except SettingsError as error:
        print(settings_error_line(PROG, error), file=sys.stderr, flush=True)
        return EXIT_BAD_SETTING
    ensure_sqlite_dir(environ.get("PROMETHEAN_STORE", ""), Path.cwd())
    grace_s = (common.drain_ms + STOP_MARGIN_MS) / 1000
    return Supervisor(specs, environ, stop_grace_s=grace_s, announce=lines).run()


def run_dev(args: argparse.Namespace) -> int:
    return run_stack(STACK, dev_environ(os.environ))


DEV_COMMAND: Final = Command(
    name="dev",
    help="run the local stack (broker) in the foreground; Ctrl-C stops it",
    description=(
        "Start every service of the local stack with the store in "
        "./.promethean/bus.db, print where each one listens, and stop them all on "
        "Ctrl-C or SIGTERM. Settings come from the environment "
        "(see docs/configuration.md)."
    ),
    run=run_dev,
)
