"""Tests here need sockets (or trip the guard on purpose): no autouse guard."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _forbid_sockets() -> None:
    """Overrides the parent directory's guard."""
