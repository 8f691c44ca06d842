"""Clients waiting for a broker subscription another client is opening."""

from __future__ import annotations

import asyncio

import pytest

from promethean.errors import PrometheanError
from promethean_gateway.link_pool import fail


async def test_waiters_get_the_openers_error() -> None:
    opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    fail(opened, PrometheanError("no such topic"))
    with pytest.raises(PrometheanError, match="no such topic"):
        await asyncio.shield(opened)


async def test_a_cancelled_opener_does_not_cancel_the_waiters() -> None:
    opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    fail(opened, asyncio.CancelledError())
    with pytest.raises(PrometheanError):
        await asyncio.shield(opened)
