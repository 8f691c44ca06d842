"""The identity a process uses in leases, claims and logs."""

from __future__ import annotations

import os
import re
import socket
from typing import Final

from promethean.errors import SettingsError
from promethean.settings.env import EnvReader, shown

PROCESS_ID_RE: Final = re.compile(r"[A-Za-z0-9._-]{1,128}")
ALLOWED_PROCESS_ID: Final = "1 to 128 characters from A-Z a-z 0-9 . _ -"


def default_process_id() -> str:
    """``<hostname>-<pid>``: unique per process, readable in logs and leases."""
    return f"{socket.gethostname()}-{os.getpid()}"


def read_process_id(env: EnvReader, name: str) -> str:
    """The variable ``name`` if set (checked against the pattern), else the default."""
    value = env.raw(name)
    if value is None:
        return default_process_id()
    if not PROCESS_ID_RE.fullmatch(value):
        raise SettingsError(name, shown(value), ALLOWED_PROCESS_ID)
    return value
