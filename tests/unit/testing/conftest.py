"""Every test of the mock broker runs with sockets forbidden: the mock must
never open one (tests under ``with_sockets/`` are the only exception)."""

from __future__ import annotations

import pytest

from promethean.testing import SocketGuard


@pytest.fixture(autouse=True)
def _forbid_sockets(no_sockets: SocketGuard) -> SocketGuard:
    return no_sockets
