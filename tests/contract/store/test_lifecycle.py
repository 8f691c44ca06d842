"""Opening, closing and describing a store."""

from __future__ import annotations

import pytest

from promethean.errors import StoreUnavailableError
from promethean.store import Store, StoreCapabilities

from .builders import event


async def test_an_adapter_satisfies_the_port_and_describes_itself(store: Store) -> None:
    assert isinstance(store, Store)
    assert isinstance(store.capabilities, StoreCapabilities)
    assert store.capabilities.detail != ""
    assert "://" in store.url


async def test_ping_answers_while_open_and_refuses_after_close(store: Store) -> None:
    await store.ping()

    await store.close()

    with pytest.raises(StoreUnavailableError):
        await store.ping()


async def test_data_survives_close_and_reopen(store: Store) -> None:
    await store.append("orders", 0, [event("kept")])
    await store.commit("billing", "orders", {0: 3})

    await store.close()
    await store.open()

    assert await store.find_ids("orders", ["kept"]) == {"kept": (0, 0)}

    commits = await store.get_commits("billing", "orders")
    assert commits[0].offset == 3
