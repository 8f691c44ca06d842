"""No client value is ever a query operator; payloads are stored as given.

Each test stores honest rows next to rows named like a query operator and
checks that every lookup by the odd name sees its own rows and nothing else.
"""

from __future__ import annotations

import pytest

from promethean.store import CommittedOffset, GroupState, Lease, NewOutboxRow, Store, ViewRow

from .builders import event

OPERATOR_NAMES = ['{"$gt": ""}', "$where", "$ne", "a.b", "{$regex: .*}", ".*"]
RISKY_PAYLOAD = (
    b'{"$set":{"a.b":1},"$where":"sleep(1000)","x.y":{"$gt":""},'
    b'"nested":[{"$in":[1,2]},{"k.e.y":null}],"\\u0000nul":"\\u0000"}'
)
names = pytest.mark.parametrize("name", OPERATOR_NAMES)


async def test_payload_with_dollar_and_dotted_keys_round_trips_byte_identical(
    store: Store,
) -> None:
    await store.append("orders", 0, [event("risky", payload=RISKY_PAYLOAD, key="k")])
    await store.outbox_insert(
        [NewOutboxRow(id="risky", topic="orders", payload=RISKY_PAYLOAD, created_ms=1)]
    )

    (stored,) = await store.read("orders", 0, 0, 10)
    latest = await store.latest_by_key("orders", "k")
    row = await store.outbox_get("risky")

    assert stored.payload == RISKY_PAYLOAD
    assert latest is not None
    assert latest.payload == RISKY_PAYLOAD
    assert row is not None
    assert row.payload == RISKY_PAYLOAD


async def test_view_values_with_operator_keys_round_trip(store: Store) -> None:
    value = {"$set": {"a.b": 1}, "$inc": {"n": 1}, "x.y": [{"$gt": ""}]}

    await store.view_upsert("processes", "p", value, 1)

    assert await store.view_get("processes", "p") == ViewRow("processes", "p", value, 1)
    schema = {"properties": {"$ref": {"type": "string"}, "a.b": {"$id": "x"}}}
    assert (await store.put_schema("orders", schema)).schema == schema


@names
async def test_operator_like_topic_names_only_see_their_own_events(store: Store, name: str) -> None:
    await store.append("orders", 0, [event("honest-1"), event("honest-2", key="k")])
    await store.append(name, 0, [event("odd-1", key="k")])

    assert [e.id for e in await store.read(name, 0, 0, 100)] == ["odd-1"]
    assert await store.count_events(name) == 1
    assert await store.latest_offset(name, 0) == 0
    assert await store.find_ids(name, ["honest-1", "odd-1"]) == {"odd-1": (0, 0)}
    latest = await store.latest_by_key(name, "k")
    assert latest is not None
    assert latest.id == "odd-1"
    assert await store.count_events("orders") == 2


@names
async def test_operator_like_keys_and_ids_match_nothing_else(store: Store, name: str) -> None:
    await store.append(
        "orders",
        0,
        [event("plain", key="plain-key", headers={"h": "v"}), event(name, key=name)],
    )

    assert [e.id for e in await store.read("orders", 0, 0, 100, key=name)] == [name]
    latest = await store.latest_by_key("orders", name)
    assert latest is not None
    assert latest.id == name
    assert await store.find_ids("orders", [name]) == {name: (0, 1)}
    assert await store.read("orders", 0, 0, 100, header=("h", name)) == []
    assert await store.read("orders", 0, 0, 100, header=(name, "v")) == []


@names
async def test_operator_like_group_names_only_see_their_own_state(store: Store, name: str) -> None:
    await store.commit("billing", "orders", {0: 5})
    await store.add_attempts("billing", "orders", 0, [6])
    await store.put_group_state(GroupState(group="billing", generation=4), expected_generation=None)

    assert await store.get_commits(name, "orders") == {}
    assert await store.get_attempts(name, "orders", 0, 0) == {}
    assert await store.list_members(name) == []
    assert await store.get_group_state(name) is None
    assert await store.put_group_state(
        GroupState(group=name, generation=1), expected_generation=None
    )
    await store.commit(name, "orders", {0: 1})

    assert await store.get_commits(name, "orders") == {0: CommittedOffset(0, 1)}
    assert await store.get_commits("billing", "orders") == {0: CommittedOffset(0, 5)}
    assert sorted(await store.groups_for_topic("orders")) == sorted(["billing", name])
    assert await store.get_group_state("billing") == GroupState(group="billing", generation=4)


@names
async def test_operator_like_lease_view_and_subject_names_are_plain(
    store: Store, name: str
) -> None:
    await store.acquire_lease("leader", "broker-a", 1_000, 0)
    await store.view_upsert("processes", "p1", {"v": 1}, 1)
    await store.put_schema("orders", {"type": "object"})

    assert await store.get_lease(name) is None
    taken = await store.acquire_lease(name, "broker-b", 1_000, 0)
    assert taken == Lease(name, "broker-b", 1, 1_000)
    assert await store.view_get(name, "p1") is None
    assert await store.view_get("processes", name) is None
    assert await store.view_list(name) == []
    assert await store.get_schema(name) is None
    assert await store.get_topic_config(name) is None
    assert await store.outbox_get(name) is None
