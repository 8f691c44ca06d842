"""The client's route book without I/O: ``ERR unknown_type`` and a
one-broker reply mean one broker (no table), an older table never replaces
a newer one, a failed refresh keeps the routes held, and concurrent
refreshes share one request."""

from __future__ import annotations

import asyncio

from promethean.client.metadata import RouteBook
from promethean.errors import ConnectionLostError, PrometheanError
from promethean.frames import broker as bf
from promethean.frames.routing import BrokerAddress

TWO = [BrokerAddress(id="b0", address="ws://b0/ws"), BrokerAddress(id="b1", address="ws://b1/ws")]


def reply(epoch: int, brokers: list[BrokerAddress] = TWO) -> bf.MetadataResponse:
    return bf.MetadataResponse(epoch=epoch, brokers=brokers, topics=[])


def book_answering(*answers: object) -> tuple[RouteBook, list[int]]:
    """A book whose fetches return (or raise) ``answers`` in turn."""
    calls: list[int] = []
    pending = list(answers)

    async def fetch() -> object:
        calls.append(1)
        answer = pending.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    return RouteBook(fetch), calls


async def test_unknown_type_means_one_broker() -> None:
    book, _ = book_answering(PrometheanError("Metadata", code="unknown_type"))
    assert await book.refresh() is None


async def test_a_reply_with_one_broker_means_one_broker() -> None:
    book, _ = book_answering(reply(3, TWO[:1]))
    assert await book.refresh() is None


async def test_several_brokers_give_a_table_and_newer_epochs_win() -> None:
    book, _ = book_answering(reply(5), reply(4), reply(6))
    first = await book.refresh()
    assert first is not None
    assert first.epoch == 5
    assert await book.refresh() is first, "epoch 4 is older"
    newer = await book.refresh()
    assert newer is not None
    assert newer.epoch == 6


async def test_a_failed_refresh_keeps_the_routes() -> None:
    book, _ = book_answering(reply(5), ConnectionLostError("lost"), bf.Ok())
    held = await book.refresh()
    assert await book.refresh() is held
    assert await book.refresh() is held, "an unexpected reply changes nothing"


async def test_concurrent_refreshes_share_one_request() -> None:
    book, calls = book_answering(reply(5))
    tables = await asyncio.gather(*(book.refresh() for _ in range(5)))
    assert len(calls) == 1
    assert len({id(table) for table in tables}) == 1
