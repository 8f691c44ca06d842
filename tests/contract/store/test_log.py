"""The log: dense offsets, idempotent append, reads, offset lookups."""

from __future__ import annotations

import asyncio

from promethean.store import AppendResult, Store, StoredEvent

from .builders import BASE_TS, append_one, event, fill

TOPIC = "orders"


async def test_append_assigns_dense_offsets_in_input_order(store: Store) -> None:
    first = await store.append(TOPIC, 0, [event("a"), event("b"), event("c")])
    second = await store.append(TOPIC, 0, [event("d"), event("e")])

    assert first == [AppendResult(0, 0, "a"), AppendResult(0, 1, "b"), AppendResult(0, 2, "c")]
    assert second == [AppendResult(0, 3, "d"), AppendResult(0, 4, "e")]
    stored = await store.read(TOPIC, 0, 0, 100)
    assert [(e.offset, e.id) for e in stored] == [(0, "a"), (1, "b"), (2, "c"), (3, "d"), (4, "e")]
    assert all(e.topic == TOPIC and e.partition == 0 for e in stored)


async def test_partitions_count_offsets_independently(store: Store) -> None:
    await fill(store, TOPIC, 0, 3, prefix="p0-")
    result = await append_one(store, TOPIC, 2, event("p2-0"))

    assert result == AppendResult(2, 0, "p2-0")
    assert await store.latest_offset(TOPIC, 0) == 2
    assert await store.latest_offset(TOPIC, 2) == 0
    assert await store.latest_offset(TOPIC, 1) == -1


async def test_empty_batch_appends_nothing(store: Store) -> None:
    assert await store.append(TOPIC, 0, []) == []
    assert await store.latest_offset(TOPIC, 0) == -1
    await fill(store, TOPIC, 0, 2)
    assert await store.append(TOPIC, 0, []) == []
    assert await store.latest_offset(TOPIC, 0) == 1


async def test_concurrent_appenders_get_dense_unique_offsets(store: Store) -> None:
    writers, batches, batch_size = 8, 12, 4

    async def writer(w: int) -> list[AppendResult]:
        results: list[AppendResult] = []
        for b in range(batches):
            batch = [event(f"w{w}-b{b}-{i}") for i in range(batch_size)]
            results.extend(await store.append(TOPIC, 0, batch))
        return results

    per_writer = await asyncio.gather(*(writer(w) for w in range(writers)))

    total = writers * batches * batch_size
    every = [r for results in per_writer for r in results]
    assert sorted(r.offset for r in every) == list(range(total))
    assert len({r.id for r in every}) == total
    assert not any(r.duplicate for r in every)
    for results in per_writer:  # each writer's batches land in the order it sent them
        assert [r.offset for r in results] == sorted(r.offset for r in results)
    stored = await store.read(TOPIC, 0, 0, total + 10)
    assert [e.offset for e in stored] == list(range(total))
    assert {e.offset: e.id for e in stored} == {r.offset: r.id for r in every}


async def test_reappending_a_stored_id_returns_the_original_position(store: Store) -> None:
    await store.append(TOPIC, 0, [event("a"), event("b")])

    again = await store.append(TOPIC, 0, [event("b", payload=b'{"other":true}'), event("c")])

    assert again == [AppendResult(0, 1, "b", duplicate=True), AppendResult(0, 2, "c")]
    stored = await store.read(TOPIC, 0, 0, 100)
    assert [e.id for e in stored] == ["a", "b", "c"]
    assert stored[1].payload == b'{"n":1}'


async def test_duplicate_id_within_one_batch_is_stored_once(store: Store) -> None:
    results = await store.append(TOPIC, 0, [event("x"), event("y"), event("x")])

    assert results == [
        AppendResult(0, 0, "x"),
        AppendResult(0, 1, "y"),
        AppendResult(0, 0, "x", duplicate=True),
    ]
    assert await store.count_events(TOPIC) == 2
    assert await store.latest_offset(TOPIC, 0) == 1


async def test_same_id_in_another_partition_of_the_topic_is_a_duplicate(store: Store) -> None:
    await fill(store, TOPIC, 1, 3)

    result = await append_one(store, TOPIC, 0, event("e2"))

    assert result == AppendResult(1, 2, "e2", duplicate=True)
    assert await store.latest_offset(TOPIC, 0) == -1
    assert await store.count_events(TOPIC, 0) == 0


async def test_same_id_in_another_topic_is_a_new_event(store: Store) -> None:
    await append_one(store, TOPIC, 0, event("shared"))

    result = await append_one(store, "invoices", 0, event("shared"))

    assert result == AppendResult(0, 0, "shared")
    assert await store.count_events("invoices") == 1


async def test_every_event_field_round_trips(store: Store) -> None:
    full = event(
        "full",
        ts=BASE_TS + 7,
        payload=b'{"a":[1,2,{"b":null}],"s":"\\u00e9"}',
        key="customer-9",
        headers={"traceparent": "00-abc-def-01", "content-type": "application/json"},
        caused_by=["cause-1", "cause-2"],
        tags=["t1", "t2"],
        sid="session-4",
    )
    bare = event("bare", ts=BASE_TS + 8, payload=b"[]")
    await store.append(TOPIC, 3, [full, bare])

    first, second = await store.read(TOPIC, 3, 0, 10)

    assert first == StoredEvent(
        topic=TOPIC,
        partition=3,
        offset=0,
        id="full",
        ts=BASE_TS + 7,
        payload=full.payload,
        key="customer-9",
        headers={"traceparent": "00-abc-def-01", "content-type": "application/json"},
        caused_by=["cause-1", "cause-2"],
        tags=["t1", "t2"],
        sid="session-4",
    )
    assert second == StoredEvent(
        topic=TOPIC, partition=3, offset=1, id="bare", ts=BASE_TS + 8, payload=b"[]"
    )
    assert type(first.payload) is bytes


async def test_unicode_keys_headers_and_ids_round_trip(store: Store) -> None:
    key = "clé-日本-🚀"
    await store.append(
        TOPIC, 0, [event("ид-1", key=key, headers={"ünï": "värde ✓"}), event("o", key="other")]
    )

    by_key = await store.read(TOPIC, 0, 0, 10, key=key)
    latest = await store.latest_by_key(TOPIC, key)

    assert [e.id for e in by_key] == ["ид-1"]
    assert by_key[0].key == key
    assert by_key[0].headers == {"ünï": "värde ✓"}
    assert latest is not None
    assert latest.id == "ид-1"
    assert await store.find_ids(TOPIC, ["ид-1"]) == {"ид-1": (0, 0)}


async def test_read_from_offset_with_limit(store: Store) -> None:
    await fill(store, TOPIC, 0, 10)

    assert [e.offset for e in await store.read(TOPIC, 0, 4, 3)] == [4, 5, 6]
    assert [e.offset for e in await store.read(TOPIC, 0, 8, 100)] == [8, 9]
    assert await store.read(TOPIC, 0, 10, 100) == []
    assert [e.offset for e in await store.read(TOPIC, 0, 0, 1)] == [0]


async def test_read_to_offset_is_inclusive(store: Store) -> None:
    await fill(store, TOPIC, 0, 10)

    assert [e.offset for e in await store.read(TOPIC, 0, 2, 100, to_offset=5)] == [2, 3, 4, 5]
    assert [e.offset for e in await store.read(TOPIC, 0, 2, 2, to_offset=5)] == [2, 3]
    assert await store.read(TOPIC, 0, 6, 100, to_offset=5) == []


async def test_read_filters_by_key_and_limit_counts_matches(store: Store) -> None:
    keys = ["a", "b", "a", None, "a", "b", "a"]
    await store.append(TOPIC, 0, [event(f"k{i}", key=k) for i, k in enumerate(keys)])

    assert [e.offset for e in await store.read(TOPIC, 0, 0, 100, key="a")] == [0, 2, 4, 6]
    assert [e.offset for e in await store.read(TOPIC, 0, 1, 2, key="a")] == [2, 4]
    assert [e.offset for e in await store.read(TOPIC, 0, 0, 100, key="b", to_offset=4)] == [1]
    assert await store.read(TOPIC, 0, 0, 100, key="missing") == []


async def test_read_filters_by_header_name_and_value(store: Store) -> None:
    await store.append(
        TOPIC,
        0,
        [
            event("h0", headers={"kind": "created"}),
            event("h1", headers={"kind": "deleted"}),
            event("h2"),
            event("h3", headers={"kind": "created", "x": "1"}),
            event("h4", headers={"other": "created"}),
        ],
    )

    created = await store.read(TOPIC, 0, 0, 100, header=("kind", "created"))
    assert [e.id for e in created] == ["h0", "h3"]
    assert await store.read(TOPIC, 0, 0, 100, header=("kind", "updated")) == []
    both = await store.read(TOPIC, 0, 0, 100, key=None, header=("x", "1"))
    assert [e.id for e in both] == ["h3"]


async def test_read_of_unknown_topic_or_partition_is_empty(store: Store) -> None:
    await fill(store, TOPIC, 0, 2)

    assert await store.read(TOPIC, 5, 0, 10) == []
    assert await store.read("nothing-here", 0, 0, 10) == []


async def test_offset_for_timestamp_finds_first_event_at_or_after(store: Store) -> None:
    stamps = [100, 200, 200, 300, 400]
    await store.append(TOPIC, 0, [event(f"t{i}", ts=ts) for i, ts in enumerate(stamps)])

    assert await store.offset_for_timestamp(TOPIC, 0, 50) == 0
    assert await store.offset_for_timestamp(TOPIC, 0, 100) == 0
    assert await store.offset_for_timestamp(TOPIC, 0, 150) == 1
    assert await store.offset_for_timestamp(TOPIC, 0, 200) == 1
    assert await store.offset_for_timestamp(TOPIC, 0, 301) == 4
    assert await store.offset_for_timestamp(TOPIC, 0, 401) == 5
    assert await store.offset_for_timestamp(TOPIC, 1, 0) == 0


async def test_latest_and_earliest_offsets(store: Store) -> None:
    assert await store.latest_offset(TOPIC, 0) == -1
    assert await store.earliest_offset(TOPIC, 0) == 0

    await fill(store, TOPIC, 0, 4)

    assert await store.latest_offset(TOPIC, 0) == 3
    assert await store.earliest_offset(TOPIC, 0) == 0


async def test_find_ids_reports_only_stored_ids_of_the_topic(store: Store) -> None:
    await fill(store, TOPIC, 0, 2, prefix="zero-")
    await fill(store, TOPIC, 1, 2, prefix="one-")
    await fill(store, "invoices", 0, 1, prefix="inv-")

    found = await store.find_ids(TOPIC, ["zero-1", "one-0", "inv-0", "absent"])

    assert found == {"zero-1": (0, 1), "one-0": (1, 0)}
    assert await store.find_ids(TOPIC, []) == {}


async def test_latest_by_key_returns_the_highest_offset_of_the_key(store: Store) -> None:
    await store.append(
        TOPIC,
        1,
        [
            event("k0", key="user-1", payload=b'{"v":0}'),
            event("k1", key="user-2"),
            event("k2", key="user-1", payload=b'{"v":2}'),
            event("k3"),
        ],
    )

    latest = await store.latest_by_key(TOPIC, "user-1")

    assert latest is not None
    assert (latest.partition, latest.offset, latest.id, latest.payload) == (1, 2, "k2", b'{"v":2}')
    assert await store.latest_by_key(TOPIC, "user-3") is None
    assert await store.latest_by_key("invoices", "user-1") is None


async def test_returned_events_cannot_change_the_stored_ones(store: Store) -> None:
    headers = {"h": "original"}
    tags = ["t"]
    await append_one(store, TOPIC, 0, event("m", key="k", headers=headers, tags=tags))
    headers["h"] = "changed-by-caller"
    tags.append("added-by-caller")

    (first,) = await store.read(TOPIC, 0, 0, 1)
    assert first.headers is not None
    assert first.tags is not None
    first.headers["h"] = "mutated"
    first.tags.append("mutated")

    (again,) = await store.read(TOPIC, 0, 0, 1)
    latest = await store.latest_by_key(TOPIC, "k")
    assert again.headers == {"h": "original"}
    assert again.tags == ["t"]
    assert latest is not None
    assert latest.headers == {"h": "original"}


CONTROL_IDS = ["a\x00b", "\x00", "tab\tand\nnewline", "del\x7f", "c1\x85", "bell\x07\x1f"]
"""Ids the edges refuse (docs/decisions.md, "One rule for ids and names");
a store still keeps them byte for byte and finds them again."""


async def test_ids_with_control_characters_are_stored_and_found_exactly(store: Store) -> None:
    first = await store.append(TOPIC, 0, [event(i) for i in CONTROL_IDS])
    again = await store.append(TOPIC, 0, [event(i) for i in [*CONTROL_IDS, "a", "ab", "a\x00c"]])

    assert [r.offset for r in first] == list(range(len(CONTROL_IDS)))
    assert again[: len(CONTROL_IDS)] == [
        AppendResult(0, r.offset, r.id, duplicate=True) for r in first
    ]
    assert [(r.id, r.duplicate) for r in again[len(CONTROL_IDS) :]] == [
        ("a", False),
        ("ab", False),
        ("a\x00c", False),
    ]
    stored = await store.read(TOPIC, 0, 0, 100)
    assert [e.id for e in stored] == [*CONTROL_IDS, "a", "ab", "a\x00c"]
    assert await store.find_ids(TOPIC, ["a\x00b", "a\x00c", "nope"]) == {
        "a\x00b": (0, 0),
        "a\x00c": (0, len(CONTROL_IDS) + 2),
    }
