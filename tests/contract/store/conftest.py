"""The ``store`` fixture: each contract test runs once per adapter.

``mongo`` needs the ``mongo_store_url`` fixture (a fresh database on the
MongoDB-compatible server, dropped afterwards) registered in
``tests/conftest.py``; run ``-m "not mongo"`` where no such server exists.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from promethean.store import Store, open_store
from promethean.store.memory import MemoryStore


def _build(adapter: str, request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if adapter == "memory":
        return MemoryStore("memory://")
    if adapter == "sqlite":
        return open_store(f"sqlite:///{tmp_path}/bus.db")
    return open_store(request.getfixturevalue("mongo_store_url"))


@pytest.fixture(
    params=[
        pytest.param("memory", id="memory"),
        pytest.param("sqlite", id="sqlite"),
        pytest.param("mongo", id="mongo", marks=pytest.mark.mongo),
    ]
)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened = _build(request.param, request, tmp_path)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()
