"""``promethean token mint``: a development JWT signed with ``JWT_SECRET``
(HS256), as the broker's admin API, console and gateway accept.

``--scope`` is repeatable (``admin:*`` full rights, ``read:*`` reads only,
or the gateway's topic scopes); ``--expires`` is a duration such as ``90s``,
``15m``, ``2h`` or ``7d``. ``JWT_AUD`` and ``JWT_ISS`` become ``aud`` and
``iss`` when set, as the verifier then requires them. The token alone is
printed, so ``export PROMETHEAN_BROKER_TOKEN=$(promethean token mint
--scope admin:*)`` works.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from typing import Any, Final

import jwt

from promethean.cli.commands import Command, CommandGroup
from promethean.cli.output import add_output_option, fail, print_json, wants_json

MIN_SECRET_BYTES: Final = 32
"""The broker refuses a shorter ``JWT_SECRET``; so does this command."""
UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION: Final = re.compile(r"^(\d+)([smhd]?)$")


def duration_s(text: str) -> int:
    match = DURATION.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"not a duration (e.g. 90s, 15m, 2h, 7d): {text!r}")
    return int(match.group(1)) * UNITS[match.group(2) or "s"]


def claims_of(
    scopes: list[str], expires_s: int, subject: str, now: float | None = None
) -> dict[str, Any]:
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "sub": subject,
        "scopes": scopes,
        "iat": issued,
        "exp": issued + expires_s,
    }
    for claim, variable in (("aud", "JWT_AUD"), ("iss", "JWT_ISS")):
        value = os.environ.get(variable)
        if value:
            claims[claim] = value
    return claims


def run_mint(args: argparse.Namespace) -> int:
    command = "promethean token mint"
    secret = os.environ.get("JWT_SECRET", "")
    if not secret:
        return fail(command, "JWT_SECRET is not set (the broker's signing secret)")
    if len(secret.encode()) < MIN_SECRET_BYTES:
        return fail(command, f"JWT_SECRET is shorter than {MIN_SECRET_BYTES} bytes")
    scopes = args.scope or ["read:*"]
    claims = claims_of(scopes, args.expires, args.subject)
    token = jwt.encode(claims, secret, algorithm="HS256")
    if wants_json(args):
        print_json({"token": token, "claims": claims})
    else:
        print(token, flush=True)
    return 0


def configure_mint(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scope",
        action="append",
        help="a granted scope, repeatable (admin:*, read:*, …); default read:*",
    )
    parser.add_argument(
        "--expires",
        type=duration_s,
        default=duration_s("1h"),
        help="lifetime: 90s, 15m, 2h, 7d (default 1h)",
    )
    parser.add_argument("--subject", default="dev", help="the sub claim (default: dev)")
    add_output_option(parser)


MINT_COMMAND: Final = Command(
    name="mint",
    help="a dev JWT with the given scopes and expiry, signed with JWT_SECRET",
    run=run_mint,
    configure=configure_mint,
    description=(__doc__ or "").replace("``", ""),
)
TOKEN_GROUP: Final = CommandGroup("token", "development tokens", (MINT_COMMAND,))
