"""Why `promethean.outbox.add` refuses a row.

Both refusals come before anything is written, except a duplicate id on
MongoDB, which the server reports by aborting the caller's transaction.
"""

from __future__ import annotations

from typing import Final

from promethean.errors import CapabilityError, PrometheanError

NO_TRANSACTION: Final = (
    "outbox.add needs an open transaction on {target} so that the event is recorded "
    "if and only if your change commits: {how}; or pass non_atomic=True to accept "
    "that the row is written on its own (see docs/outbox.md, 'Non-atomic mode')"
)
HOW_MONGO: Final = "call it between `await session.start_transaction()` and the commit"
HOW_SQLITE: Final = (
    "call it after BEGIN (or after your own writes, which open a transaction in "
    "sqlite3's default mode) and before COMMIT"
)
SERVER_LACKS_TRANSACTIONS: Final = (
    "outbox.add cannot be atomic on {server}: {reason}. Use a MongoDB replica set "
    "(a single-node one is enough), or pass non_atomic=True to accept that the row "
    "is written on its own (see docs/outbox.md, 'Non-atomic mode')"
)
DUPLICATE_ID: Final = "outbox row {id!r} already exists: an id is recorded once{aborted}"
MONGO_ABORTED: Final = " (MongoDB aborted the surrounding transaction)"
NO_OUTBOX_TABLE: Final = (
    "the SQLite database has no `outbox` table: open it once with "
    "promethean.outbox.connect_sqlite(url) (or start the broker or drainer on it) first"
)
UNSUPPORTED_TARGET: Final = (
    "outbox.add takes a pymongo AsyncClientSession or a sqlite3.Connection, got {kind}"
)


class TransactionRequiredError(CapabilityError):
    """`add` was called outside a transaction without opting into non-atomic mode."""

    code = "transaction_required"


class DuplicateOutboxIdError(PrometheanError, ValueError):
    """A row with this id is already in the outbox (the id is the idempotency key)."""

    code = "duplicate_id"
