"""Handlers the worker processes of these tests load (by module path).

``record`` appends ``pid partition offset key seq monotonic_ns`` per message to the file
named by ``WORKER_TEST_RECORD`` (one file per worker process), after doing
what the payload asks: ``sleep_ms`` (slow work), ``block: "loop"`` (block
the event loop) or ``block: "await"`` (await forever).
"""

from __future__ import annotations

import asyncio
import os
import time

from promethean.client.types import Message

FOREVER_S = 3600

_record = open(os.environ["WORKER_TEST_RECORD"], "a", buffering=1)  # noqa: SIM115


async def record(message: Message) -> None:
    payload = message.payload
    block = payload.get("block")
    if block == "loop":
        time.sleep(FOREVER_S)  # noqa: ASYNC251 - blocking the loop is the point
    elif block == "await":
        await asyncio.sleep(FOREVER_S)
    sleep_ms = payload.get("sleep_ms", 0)
    if sleep_ms:
        await asyncio.sleep(sleep_ms / 1000)
    _record.write(
        f"{os.getpid()} {message.partition} {message.offset} {message.key} {payload['seq']} "
        f"{time.monotonic_ns()}\n"
    )
