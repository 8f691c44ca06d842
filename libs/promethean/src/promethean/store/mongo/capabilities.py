"""What the connected server supports, probed once at `MongoStore.open`.

Transactions need a replica set (or mongos) and a server that implements
them: ``hello`` must name a set, and a no-op transaction must commit.
Change streams are probed by opening one. Whatever is missing is named in one
log line together with the fallback the bus uses, so a deployment on a
standalone server or a MongoDB-compatible one never degrades silently.
"""

from __future__ import annotations

import logging
from typing import Final

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError

from promethean.store.mongo.collections import COUNTERS
from promethean.store.mongo.connection import Document
from promethean.store.records import StoreCapabilities

logger = logging.getLogger("promethean.store.mongo")

MISSING: Final = (
    "mongodb store {url} lacks {missing} ({detail}); falling back to polling the store "
    "for new events and to single-document atomic writes without transactions"
)
COMPLETE: Final = "mongodb store {url} supports transactions and change streams"


def _reason(error: PyMongoError) -> str:
    if isinstance(error, OperationFailure) and error.details:
        return str(error.details.get("errmsg", error))
    return str(error)


async def _transactions(db: AsyncDatabase[Document]) -> tuple[bool, str]:
    hello = await db.client.admin.command("hello")
    if "setName" not in hello and hello.get("msg") != "isdbgrid":
        return False, "server is not a replica set member"
    try:
        async with db.client.start_session() as session:
            await session.start_transaction()
            await db.get_collection(COUNTERS).find_one({}, session=session)
            await session.commit_transaction()
    except ConnectionFailure:
        raise
    except PyMongoError as error:
        return False, f"a no-op transaction failed: {_reason(error)}"
    return True, f"replica set {hello.get('setName', 'mongos')!r}"


async def _change_streams(db: AsyncDatabase[Document]) -> tuple[bool, str]:
    try:
        stream = await db.get_collection(COUNTERS).watch(max_await_time_ms=1)
    except ConnectionFailure:
        raise
    except PyMongoError as error:
        return False, f"opening a change stream failed: {_reason(error)}"
    await stream.close()
    return True, "change streams open"


async def detect_capabilities(db: AsyncDatabase[Document], masked_url: str) -> StoreCapabilities:
    """Probe the server and log exactly one line about the result."""
    transactions, transactions_detail = await _transactions(db)
    change_streams, streams_detail = await _change_streams(db)
    detail = f"transactions: {transactions_detail}; change streams: {streams_detail}"
    missing = [
        name
        for name, present in (("transactions", transactions), ("change streams", change_streams))
        if not present
    ]
    if missing:
        logger.warning(MISSING.format(url=masked_url, missing=" and ".join(missing), detail=detail))
    else:
        logger.info(COMPLETE.format(url=masked_url))
    return StoreCapabilities(
        transactions=transactions, change_streams=change_streams, detail=detail
    )
