"""Prove a test opens no socket: while a `SocketGuard` is active, creating
any socket raises `SocketForbiddenError` and is recorded.

It listens to the interpreter's ``socket.__new__`` audit event, so it sees
every socket however it is made (``socket.socket``, ``socketpair``, C
extensions using the socket module) without patching anything. The audit
hook is installed once per process and does nothing while no guard is active.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from promethean.errors import PrometheanError

AUDIT_EVENT = "socket.__new__"

_active: list[SocketGuard] = []
_install_lock = threading.Lock()
_installed = False


class SocketForbiddenError(PrometheanError, PermissionError):
    code = "socket_forbidden"


@dataclass(frozen=True, slots=True)
class SocketAttempt:
    family: int
    type: int


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event != AUDIT_EVENT or not _active:
        return
    attempt = SocketAttempt(int(args[1]), int(args[2]))
    for guard in _active:
        guard.attempts.append(attempt)
    raise SocketForbiddenError(
        f"a socket (family {attempt.family}, type {attempt.type}) was opened "
        "where the test forbids sockets"
    )


def _install() -> None:
    global _installed
    with _install_lock:
        if not _installed:
            sys.addaudithook(_hook)
            _installed = True


class SocketGuard:
    def __init__(self) -> None:
        self.attempts: list[SocketAttempt] = []

    def __enter__(self) -> SocketGuard:
        _install()
        _active.append(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _active.remove(self)
