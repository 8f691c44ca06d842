"""What the connected server supports, probed once at `MongoStore.open`.

Transactions need a replica set (or mongos) and a server that implements
them: ``hello`` must name a set, and a no-op transaction must commit.
Change streams are probed by opening one. FerretDB (the MongoDB-compatible
server the tests run on) applies an update by reading the matching documents
and writing them back, so a conditional update or ``$inc`` is not atomic
against a concurrent one; it is recognised by ``buildInfo`` and the store
then serializes such updates within its process.

Whatever is missing is named in one log line together with the fallback the
bus uses, so a deployment on a standalone or MongoDB-compatible server never
degrades silently.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError

from promethean.store.mongo.collections import COUNTERS
from promethean.store.mongo.connection import Document
from promethean.store.records import StoreCapabilities

logger = logging.getLogger("promethean.store.mongo")

MISSING: Final = (
    "mongodb store {url} lacks {missing} ({detail}); falling back to polling the store "
    "for new events and to single-document writes without transactions{serialized}"
)
SERIALIZED: Final = ", with conditional updates serialized within this process"
COMPLETE: Final = "mongodb store {url} supports transactions and change streams ({detail})"


@dataclass(frozen=True)
class ServerTraits:
    capabilities: StoreCapabilities
    atomic_updates: bool


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


async def _atomic_updates(db: AsyncDatabase[Document]) -> tuple[bool, str]:
    info = await db.client.admin.command("buildInfo")
    ferretdb = info.get("ferretdbVersion")
    if ferretdb is not None:
        return False, f"FerretDB {ferretdb}: conditional updates are not atomic"
    return True, f"MongoDB {info.get('version', '?')}"


async def probe_server(db: AsyncDatabase[Document], masked_url: str) -> ServerTraits:
    """Probe the server and log exactly one line about the result."""
    atomic_updates, server_detail = await _atomic_updates(db)
    transactions, transactions_detail = await _transactions(db)
    change_streams, streams_detail = await _change_streams(db)
    detail = (
        f"server: {server_detail}; transactions: {transactions_detail}; "
        f"change streams: {streams_detail}"
    )
    missing = [
        name
        for name, present in (("transactions", transactions), ("change streams", change_streams))
        if not present
    ]
    if missing:
        logger.warning(
            MISSING.format(
                url=masked_url,
                missing=" and ".join(missing),
                detail=detail,
                serialized="" if atomic_updates else SERIALIZED,
            )
        )
    else:
        logger.info(COMPLETE.format(url=masked_url, detail=detail))
    capabilities = StoreCapabilities(
        transactions=transactions, change_streams=change_streams, detail=detail
    )
    return ServerTraits(capabilities, atomic_updates)
