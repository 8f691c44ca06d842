"""The transactional outbox: record events in the same transaction as the
change they describe; the outbox-drainer service publishes them.

    async with client.start_session() as session:
        async with await session.start_transaction():
            await orders.insert_one(order, session=session)
            await outbox.add(session, "orders.placed", order_event, key=order_id)

See docs/outbox.md.
"""

from promethean.outbox.api import add, add_sync
from promethean.outbox.defaults import DEFAULT_DRAINER_PORT, DLQ_TOPIC, DRAINER_PORT_VAR
from promethean.outbox.errors import DuplicateOutboxIdError, TransactionRequiredError
from promethean.outbox.mongo import probe_transactions
from promethean.outbox.rows import new_row
from promethean.outbox.sqlite import connect_sqlite

__all__ = [
    "DEFAULT_DRAINER_PORT",
    "DLQ_TOPIC",
    "DRAINER_PORT_VAR",
    "DuplicateOutboxIdError",
    "TransactionRequiredError",
    "add",
    "add_sync",
    "connect_sqlite",
    "new_row",
    "probe_transactions",
]
