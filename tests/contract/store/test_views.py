"""Materialized views (offset rule, tombstones, listing)."""

from __future__ import annotations

from promethean.store import Store, ViewRow

VIEW = "processes"


async def test_view_upsert_and_get(store: Store) -> None:
    value = {"state": "running", "pid": 41, "tags": ["a", "b"], "ratio": 0.5, "ok": True}

    assert await store.view_upsert(VIEW, "proc-1", value, 10) is True

    assert await store.view_get(VIEW, "proc-1") == ViewRow(VIEW, "proc-1", value, 10)
    assert await store.view_get(VIEW, "proc-2") is None
    assert await store.view_get("other-view", "proc-1") is None


async def test_view_ignores_an_upsert_from_an_older_or_equal_offset(store: Store) -> None:
    await store.view_upsert(VIEW, "proc-1", {"v": 10}, 10)

    assert await store.view_upsert(VIEW, "proc-1", {"v": 9}, 9) is False
    assert await store.view_upsert(VIEW, "proc-1", {"v": "same"}, 10) is False
    assert await store.view_get(VIEW, "proc-1") == ViewRow(VIEW, "proc-1", {"v": 10}, 10)

    assert await store.view_upsert(VIEW, "proc-1", {"v": 11}, 11) is True
    assert await store.view_get(VIEW, "proc-1") == ViewRow(VIEW, "proc-1", {"v": 11}, 11)


async def test_view_delete_leaves_a_tombstone_that_blocks_older_upserts(store: Store) -> None:
    await store.view_upsert(VIEW, "proc-1", {"v": 1}, 5)

    assert await store.view_delete(VIEW, "proc-1", 4) is False
    assert await store.view_get(VIEW, "proc-1") is not None
    assert await store.view_delete(VIEW, "proc-1", 8) is True
    assert await store.view_get(VIEW, "proc-1") is None

    assert await store.view_upsert(VIEW, "proc-1", {"v": "redelivered"}, 7) is False
    assert await store.view_get(VIEW, "proc-1") is None
    assert await store.view_upsert(VIEW, "proc-1", {"v": "reborn"}, 9) is True
    assert await store.view_get(VIEW, "proc-1") == ViewRow(VIEW, "proc-1", {"v": "reborn"}, 9)


async def test_view_delete_of_an_unknown_key_still_blocks_older_upserts(store: Store) -> None:
    assert await store.view_delete(VIEW, "proc-9", 20) is True

    assert await store.view_upsert(VIEW, "proc-9", {"v": 1}, 19) is False
    assert await store.view_get(VIEW, "proc-9") is None


async def test_view_list_returns_live_rows_ordered_by_key(store: Store) -> None:
    for offset, key in enumerate(["m", "b", "x", "a", "k"]):
        await store.view_upsert(VIEW, key, {"key": key}, offset)
    await store.view_delete(VIEW, "k", 10)
    await store.view_upsert("other-view", "c", 1, 0)

    listed = await store.view_list(VIEW)
    limited = await store.view_list(VIEW, limit=2)

    assert [(r.key, r.value) for r in listed] == [
        ("a", {"key": "a"}),
        ("b", {"key": "b"}),
        ("m", {"key": "m"}),
        ("x", {"key": "x"}),
    ]
    assert all(r.view == VIEW and not r.deleted for r in listed)
    assert [r.key for r in limited] == ["a", "b"]
    assert await store.view_list("empty-view") == []


async def test_view_values_of_every_json_kind_round_trip(store: Store) -> None:
    values = [None, 0, -7, 3.25, "text", True, False, [], {}, [1, "two", None, {"x": [3]}]]
    for i, value in enumerate(values):
        await store.view_upsert(VIEW, f"k{i:02d}", value, i)

    rows = await store.view_list(VIEW)

    assert [r.value for r in rows] == values


async def test_returned_view_values_cannot_change_stored_ones(store: Store) -> None:
    value = {"items": [1, 2]}
    await store.view_upsert(VIEW, "k", value, 1)
    value["items"].append(3)

    row = await store.view_get(VIEW, "k")
    assert row is not None
    row.value["items"].append(4)

    again = await store.view_get(VIEW, "k")
    assert again is not None
    assert again.value == {"items": [1, 2]}
