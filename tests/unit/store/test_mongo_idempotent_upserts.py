"""Ordered upserts of commits: one bulk write, the index of the first
insert race reported; and on FerretDB, whose reply to an ordered bulk that
stopped at a write error lacks ``nModified`` (the driver raises KeyError),
the same answer from running the upserts one at a time."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from promethean.store.mongo.groups import Upsert, idempotent_upserts

OPS: list[Upsert] = [({"partition": p}, {"$max": {"offset": 5}}) for p in range(4)]


class FakeCollection:
    """Fails the bulk write as told; upserts one at a time, colliding on
    ``collide_at``."""

    name = "group_offsets"

    def __init__(self, bulk_error: BaseException | None, collide_at: int | None = None) -> None:
        self.bulk_error = bulk_error
        self.collide_at = collide_at
        self.bulk: list[list[UpdateOne]] = []
        self.singles: list[dict[str, Any]] = []

    async def bulk_write(self, ops: list[UpdateOne], *, ordered: bool) -> None:
        assert ordered
        self.bulk.append(ops)
        if self.bulk_error is not None:
            raise self.bulk_error

    async def update_one(
        self, query: dict[str, Any], update: dict[str, Any], *, upsert: bool
    ) -> None:
        assert upsert
        if len(self.singles) == self.collide_at:
            raise DuplicateKeyError("E11000 duplicate key", 11000)
        self.singles.append(query)


async def test_every_upsert_runs_in_one_bulk_write() -> None:
    collection = FakeCollection(None)
    assert await idempotent_upserts(collection, OPS) is None  # type: ignore[arg-type]
    assert len(collection.bulk) == 1
    assert len(collection.bulk[0]) == len(OPS)
    assert collection.singles == []


async def test_an_insert_race_reports_the_first_colliding_upsert() -> None:
    race = BulkWriteError({"writeErrors": [{"index": 2, "code": 11000, "errmsg": "dup"}]})
    collection = FakeCollection(race)
    assert await idempotent_upserts(collection, OPS) == 2  # type: ignore[arg-type]


async def test_a_reply_without_nmodified_is_answered_by_upserting_one_at_a_time() -> None:
    collection = FakeCollection(KeyError("nModified"), collide_at=1)
    assert await idempotent_upserts(collection, OPS) == 1  # type: ignore[arg-type]
    assert collection.singles == [{"partition": 0}]


async def test_another_key_error_is_not_taken_for_the_ferretdb_reply() -> None:
    collection = FakeCollection(KeyError("upserted"))
    with pytest.raises(KeyError):
        await idempotent_upserts(collection, OPS)  # type: ignore[arg-type]
    assert collection.singles == []
