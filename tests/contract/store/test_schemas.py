"""Schema versions: numbering, global ids, soft and permanent deletion,
compatibility settings."""

from __future__ import annotations

from promethean.store import SchemaVersion, Store

ORDER_V1 = {"type": "object", "properties": {"id": {"type": "string"}}}
ORDER_V2 = {"type": "object", "properties": {"id": {"type": "string"}, "n": {"type": "integer"}}}


def plain(version: SchemaVersion | None) -> tuple[str, int, object, bool] | None:
    if version is None:
        return None
    return (version.subject, version.version, version.schema, version.deleted)


async def test_schemas_are_versioned_from_one(store: Store) -> None:
    assert await store.get_schema("orders") is None

    first = await store.put_schema("orders", ORDER_V1)
    second = await store.put_schema("orders", ORDER_V2)

    assert plain(first) == ("orders", 1, ORDER_V1, False)
    assert plain(second) == ("orders", 2, ORDER_V2, False)
    assert await store.get_schema("orders") == second
    assert await store.get_schema("orders", 1) == first
    assert await store.get_schema("orders", 3) is None
    assert await store.get_schema("invoices") is None


async def test_registering_the_latest_schema_again_returns_its_version(store: Store) -> None:
    await store.put_schema("orders", ORDER_V1)
    await store.put_schema("orders", ORDER_V2)

    same = await store.put_schema("orders", dict(ORDER_V2))
    back = await store.put_schema("orders", ORDER_V1)

    assert plain(same) == ("orders", 2, ORDER_V2, False)
    assert plain(back) == ("orders", 3, ORDER_V1, False)
    assert (await store.put_schema("invoices", ORDER_V1)).version == 1


async def test_one_schema_has_one_id_across_subjects_and_key_orders(store: Store) -> None:
    first = await store.put_schema("orders", ORDER_V1)
    second = await store.put_schema("orders", ORDER_V2)
    reordered = {"properties": {"id": {"type": "string"}}, "type": "object"}
    elsewhere = await store.put_schema("invoices", reordered)

    assert first.id > 0
    assert second.id not in (0, first.id)
    assert elsewhere.id == first.id
    assert await store.get_schema_by_id(first.id) == ORDER_V1
    assert await store.get_schema_by_id(second.id) == ORDER_V2
    assert await store.get_schema_by_id(second.id + 100) is None


async def test_subjects_and_versions_are_listed_in_order(store: Store) -> None:
    await store.put_schema("orders", ORDER_V1)
    await store.put_schema("orders", ORDER_V2)
    await store.put_schema("audit", ORDER_V1)

    versions = await store.list_schema_versions("orders")

    assert await store.list_schema_subjects() == ["audit", "orders"]
    assert [v.version for v in versions] == [1, 2]
    assert [v.schema for v in versions] == [ORDER_V1, ORDER_V2]
    assert await store.list_schema_versions("none") == []


async def test_a_soft_deleted_version_keeps_its_number_and_id(store: Store) -> None:
    first = await store.put_schema("orders", ORDER_V1)
    second = await store.put_schema("orders", ORDER_V2)

    assert await store.delete_schema_version("orders", 2, permanent=False) is True

    deleted = await store.get_schema("orders", 2)
    assert deleted is not None
    assert deleted.deleted is True
    assert deleted.id == second.id
    assert await store.get_schema("orders") == first
    assert await store.get_schema_by_id(second.id) == ORDER_V2
    assert [v.deleted for v in await store.list_schema_versions("orders")] == [False, True]
    again = await store.put_schema("orders", ORDER_V2)
    assert (again.version, again.id, again.deleted) == (3, second.id, False)
    assert await store.delete_schema_version("orders", 9, permanent=False) is False


async def test_a_permanent_delete_removes_the_version_and_never_reuses_the_id(
    store: Store,
) -> None:
    await store.put_schema("orders", ORDER_V1)
    second = await store.put_schema("orders", ORDER_V2)

    assert await store.delete_schema_version("orders", 2, permanent=True) is True

    assert await store.get_schema("orders", 2) is None
    assert await store.get_schema_by_id(second.id) is None
    third = await store.put_schema("orders", {"type": "object", "title": "v3"})
    assert third.id not in (0, second.id)
    assert third.version == 2
    restored = await store.put_schema("orders", ORDER_V2)
    assert restored.id == second.id
    assert await store.delete_schema_version("orders", 2, permanent=True) is True
    assert await store.delete_schema_version("orders", 2, permanent=True) is False


async def test_compatibility_settings_are_kept_per_key(store: Store) -> None:
    assert await store.get_schema_config("orders-value") is None

    await store.put_schema_config("orders-value", "FULL")
    await store.put_schema_config("__GLOBAL", "NONE")
    await store.put_schema_config("orders-value", "FORWARD")

    assert await store.get_schema_config("orders-value") == "FORWARD"
    assert await store.get_schema_config("__GLOBAL") == "NONE"
    await store.put_schema_config("orders-value", None)
    assert await store.get_schema_config("orders-value") is None
    assert await store.get_schema_config("__GLOBAL") == "NONE"
