"""`add` on MongoDB: one ``insert_one`` into ``outbox`` inside the caller's
session transaction.

The document is the one `MongoStore.outbox_insert` writes
(`promethean.store.mongo.codecs.outbox_document`), in the bus database: the
database named by the client's URL (``promethean`` when it names none, as
the store does) unless ``database`` says otherwise.

Whether the server can run transactions is probed once per client (``hello``
names a replica set or mongos, and the server is not FerretDB, whose
conditional writes are not atomic), so a deployment without them gets a
`CapabilityError` that says so instead of a server error mid-transaction.
"""

from __future__ import annotations

import asyncio
import contextvars
import weakref
from dataclasses import dataclass
from typing import Any, Final

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.mongo_client import AsyncMongoClient
from pymongo.errors import DuplicateKeyError
from pymongo.write_concern import WriteConcern

from promethean.errors import CapabilityError
from promethean.outbox.errors import (
    DUPLICATE_ID,
    HOW_MONGO,
    MONGO_ABORTED,
    NO_TRANSACTION,
    SERVER_LACKS_TRANSACTIONS,
    DuplicateOutboxIdError,
    TransactionRequiredError,
)
from promethean.store.mongo.codecs import outbox_document
from promethean.store.mongo.collections import OUTBOX
from promethean.store.records import NewOutboxRow
from promethean.urls import DEFAULT_MONGO_DB, mask_url

ON_ITS_OWN: Final = WriteConcern(w="majority", j=True)
"""A non-atomic row is acknowledged like a publish: majority, journaled."""


@dataclass(frozen=True, slots=True)
class TransactionSupport:
    supported: bool
    server: str
    reason: str


_probed: weakref.WeakKeyDictionary[Any, TransactionSupport] = weakref.WeakKeyDictionary()


async def probe_transactions(client: AsyncMongoClient[Any]) -> TransactionSupport:
    """Whether ``client``'s server runs multi-document transactions (cached).

    The probe runs in a fresh context, so a session the caller bound with
    ``session.bind()`` (and its open transaction) never carries it."""
    known = _probed.get(client)
    if known is not None:
        return known
    probe = asyncio.create_task(_probe(client), context=contextvars.Context())
    support = await probe
    _probed[client] = support
    return support


async def _probe(client: AsyncMongoClient[Any]) -> TransactionSupport:
    info = await client.admin.command("buildInfo")
    hello = await client.admin.command("hello")
    ferretdb = info.get("ferretdbVersion")
    if ferretdb is not None:
        support = TransactionSupport(
            False, f"FerretDB {ferretdb}", "FerretDB does not implement transactions"
        )
    elif "setName" not in hello and hello.get("msg") != "isdbgrid":
        support = TransactionSupport(
            False,
            f"MongoDB {info.get('version', '?')}",
            "a standalone server runs no transactions; they need a replica set or mongos",
        )
    else:
        support = TransactionSupport(True, f"MongoDB {info.get('version', '?')}", "")
    return support


async def require_transactions(client: AsyncMongoClient[Any]) -> None:
    support = await probe_transactions(client)
    if not support.supported:
        raise CapabilityError(
            SERVER_LACKS_TRANSACTIONS.format(server=support.server, reason=support.reason)
        )


async def add_mongo(
    session: AsyncClientSession,
    row: NewOutboxRow,
    *,
    non_atomic: bool,
    database: str | None,
) -> None:
    client = session.client
    db_name = database or client.get_default_database(DEFAULT_MONGO_DB).name
    document = outbox_document(row)
    if session.in_transaction:
        await require_transactions(client)
        collection = client.get_database(db_name).get_collection(OUTBOX)
        try:
            await collection.insert_one(document, session=session)
        except DuplicateKeyError as error:
            message = DUPLICATE_ID.format(id=row.id, aborted=MONGO_ABORTED)
            raise DuplicateOutboxIdError(message) from error
        return
    if not non_atomic:
        support = await probe_transactions(client)
        if not support.supported:
            raise CapabilityError(
                SERVER_LACKS_TRANSACTIONS.format(server=support.server, reason=support.reason)
            )
        target = f"MongoDB database {db_name!r} ({_address(client)})"
        raise TransactionRequiredError(NO_TRANSACTION.format(target=target, how=HOW_MONGO))
    collection = client.get_database(db_name).get_collection(OUTBOX, write_concern=ON_ITS_OWN)
    try:
        await collection.insert_one(document, session=session)
    except DuplicateKeyError as error:
        raise DuplicateOutboxIdError(DUPLICATE_ID.format(id=row.id, aborted="")) from error


def _address(client: AsyncMongoClient[Any]) -> str:
    try:
        host, port = next(iter(client.topology_description.server_descriptions()))
    except (StopIteration, ValueError):
        return "server unknown"
    return mask_url(f"{host}:{port}")
