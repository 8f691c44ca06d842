"""The registry REST API case by case against Confluent Schema Registry's
documented behaviour: ids stable across re-registration and subjects,
version numbering, soft then permanent delete, error codes and shapes."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.schemas.conftest import Registry

V1: dict[str, Any] = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "n": {"type": "integer"}},
    "required": ["id"],
}
V2: dict[str, Any] = {**V1, "properties": {**V1["properties"], "note": {"type": "string"}}}
WIDER: dict[str, Any] = {**V1, "properties": {"id": {"type": "string"}, "n": {"type": "number"}}}
NEEDS_NOTE: dict[str, Any] = {**V1, "required": ["id", "note"]}


def test_register_returns_an_id_and_the_same_schema_returns_the_same_id(
    registry: Registry, subject: str
) -> None:
    status, first = registry.register(subject, V1)
    again_status, again = registry.register(subject, json.loads(json.dumps(V1)))

    assert status == 200
    assert isinstance(first["id"], int)
    assert (again_status, again) == (200, first)
    assert registry.call("GET", f"/subjects/{subject}/versions") == (200, [1])


def test_the_same_schema_under_another_subject_gets_the_same_id(
    registry: Registry, subject: str
) -> None:
    _, first = registry.register(subject, V1)
    other = subject.replace("-value", "-other-value")

    _, second = registry.register(other, V1)

    assert second["id"] == first["id"]
    assert registry.call("GET", f"/subjects/{other}/versions/latest")[1]["version"] == 1


def test_versions_count_from_one_and_latest_is_the_newest(registry: Registry, subject: str) -> None:
    _, one = registry.register(subject, V1)
    registry.call("PUT", f"/config/{subject}", {"compatibility": "NONE"})
    _, two = registry.register(subject, V2)

    status, latest = registry.call("GET", f"/subjects/{subject}/versions/latest")
    _, first = registry.call("GET", f"/subjects/{subject}/versions/1")

    assert status == 200
    assert latest == {
        "subject": subject,
        "version": 2,
        "id": two["id"],
        "schemaType": "JSON",
        "schema": latest["schema"],
    }
    assert json.loads(latest["schema"]) == V2
    assert first["id"] == one["id"]
    assert registry.call("GET", f"/subjects/{subject}/versions/-1")[1]["version"] == 2
    assert registry.call("GET", f"/subjects/{subject}/versions/1/schema") == (200, V1)
    assert subject in registry.call("GET", "/subjects")[1]


def test_schema_by_id(registry: Registry, subject: str) -> None:
    _, registered = registry.register(subject, V1)

    status, body = registry.call("GET", f"/schemas/ids/{registered['id']}")

    assert status == 200
    assert body["schemaType"] == "JSON"
    assert json.loads(body["schema"]) == V1
    assert registry.call("GET", f"/schemas/ids/{registered['id']}/schema") == (200, V1)
    assert registry.call("GET", "/schemas/ids/987654") == (
        404,
        {"error_code": 40403, "message": "Schema 987654 not found"},
    )


def test_unknown_subject_and_version_codes(registry: Registry, subject: str) -> None:
    missing = registry.call("GET", f"/subjects/{subject}/versions")
    registry.register(subject, V1)
    no_version = registry.call("GET", f"/subjects/{subject}/versions/7")
    bad_version = registry.call("GET", f"/subjects/{subject}/versions/zero")

    assert missing[0] == 404
    assert missing[1]["error_code"] == 40401
    assert no_version[0] == 404
    assert no_version[1]["error_code"] == 40402
    assert bad_version[0] == 422
    assert bad_version[1]["error_code"] == 42202


def test_an_invalid_schema_document_is_refused_with_42201(registry: Registry, subject: str) -> None:
    not_json = registry.call("POST", f"/subjects/{subject}/versions", {"schema": "{nope"})
    bad_type = registry.register(subject, {"type": "integr"})
    remote = registry.register(subject, {"$ref": "https://example.com/schema.json"})
    avro = registry.call(
        "POST", f"/subjects/{subject}/versions", {"schema": "{}", "schemaType": "AVRO"}
    )

    for status, body in (not_json, bad_type, remote, avro):
        assert status == 422
        assert body["error_code"] == 42201
        assert body["message"]
    assert registry.call("GET", f"/subjects/{subject}/versions")[1]["error_code"] == 40401


def test_an_incompatible_schema_is_refused_with_409_and_nothing_is_stored(
    registry: Registry, subject: str
) -> None:
    registry.register(subject, V1)

    status, body = registry.register(subject, NEEDS_NOTE)

    assert status == 409
    assert body["error_code"] == 409
    assert "note" in body["message"]
    assert registry.call("GET", f"/subjects/{subject}/versions") == (200, [1])


def test_compatibility_check_reports_messages_without_registering(
    registry: Registry, subject: str
) -> None:
    registry.register(subject, V1)

    ok = registry.check(subject, "latest", WIDER)
    broken = registry.check(subject, "1", NEEDS_NOTE)
    missing = registry.check(subject, "5", V1)

    assert ok == (200, {"is_compatible": True, "messages": []})
    assert broken[0] == 200
    assert broken[1]["is_compatible"] is False
    assert any("note" in m for m in broken[1]["messages"])
    assert missing[1]["error_code"] == 40402
    assert registry.call("GET", f"/subjects/{subject}/versions") == (200, [1])


def test_global_and_subject_config(registry: Registry, subject: str) -> None:
    assert registry.call("GET", "/config") == (200, {"compatibilityLevel": "BACKWARD"})
    unset = registry.call("GET", f"/config/{subject}")
    put = registry.call("PUT", f"/config/{subject}", {"compatibility": "full"})
    got = registry.call("GET", f"/config/{subject}")
    bad = registry.call("PUT", f"/config/{subject}", {"compatibility": "SIDEWAYS"})
    deleted = registry.call("DELETE", f"/config/{subject}")
    fallback = registry.call("GET", f"/config/{subject}?defaultToGlobal=true")

    assert unset[0] == 404
    assert unset[1]["error_code"] == 40408
    assert put == (200, {"compatibility": "FULL"})
    assert got == (200, {"compatibilityLevel": "FULL"})
    assert bad[0] == 422
    assert bad[1]["error_code"] == 42203
    assert deleted == (200, {"compatibilityLevel": "FULL"})
    assert fallback == (200, {"compatibilityLevel": "BACKWARD"})


def test_subject_level_none_lets_an_incompatible_schema_in(
    registry: Registry, subject: str
) -> None:
    registry.register(subject, V1)
    registry.call("PUT", f"/config/{subject}", {"compatibility": "NONE"})

    status, body = registry.register(subject, NEEDS_NOTE)

    assert status == 200
    assert registry.call("GET", f"/subjects/{subject}/versions") == (200, [1, 2])
    assert registry.call("GET", f"/subjects/{subject}/versions/2")[1]["id"] == body["id"]


def test_soft_delete_of_a_version_then_permanent(registry: Registry, subject: str) -> None:
    registry.call("PUT", f"/config/{subject}", {"compatibility": "NONE"})
    registry.register(subject, V1)
    _, two = registry.register(subject, NEEDS_NOTE)

    early_permanent = registry.call("DELETE", f"/subjects/{subject}/versions/2?permanent=true")
    soft = registry.call("DELETE", f"/subjects/{subject}/versions/2")
    hidden = registry.call("GET", f"/subjects/{subject}/versions/2")
    shown = registry.call("GET", f"/subjects/{subject}/versions/2?deleted=true")
    listed = registry.call("GET", f"/subjects/{subject}/versions")
    listed_all = registry.call("GET", f"/subjects/{subject}/versions?deleted=true")
    by_id = registry.call("GET", f"/schemas/ids/{two['id']}")
    permanent = registry.call("DELETE", f"/subjects/{subject}/versions/2?permanent=true")

    assert early_permanent[1]["error_code"] == 40407
    assert soft == (200, 2)
    assert hidden[1]["error_code"] == 40402
    assert shown[1]["version"] == 2
    assert listed == (200, [1])
    assert listed_all == (200, [1, 2])
    assert by_id[0] == 200, "a soft-deleted schema is still readable by id"
    assert permanent == (200, 2)
    assert registry.call("GET", f"/subjects/{subject}/versions?deleted=true") == (200, [1])
    assert registry.call("GET", f"/subjects/{subject}/versions/latest")[1]["version"] == 1


def test_soft_delete_of_a_subject_then_permanent(registry: Registry, subject: str) -> None:
    registry.register(subject, V1)
    registry.register(subject, WIDER)

    early_permanent = registry.call("DELETE", f"/subjects/{subject}?permanent=true")
    soft = registry.call("DELETE", f"/subjects/{subject}")
    twice = registry.call("DELETE", f"/subjects/{subject}")
    gone = registry.call("GET", f"/subjects/{subject}/versions")
    listed = registry.call("GET", "/subjects")[1]
    listed_all = registry.call("GET", "/subjects?deleted=true")[1]
    permanent = registry.call("DELETE", f"/subjects/{subject}?permanent=true")

    assert early_permanent[1]["error_code"] == 40405
    assert soft == (200, [1, 2])
    assert twice[1]["error_code"] == 40404
    assert gone[1]["error_code"] == 40401
    assert subject not in listed
    assert subject in listed_all
    assert permanent == (200, [1, 2])
    assert subject not in registry.call("GET", "/subjects?deleted=true")[1]


def test_registering_after_a_soft_delete_continues_the_numbering(
    registry: Registry, subject: str
) -> None:
    _, first = registry.register(subject, V1)
    registry.call("DELETE", f"/subjects/{subject}")

    status, again = registry.register(subject, V1)

    assert status == 200
    assert again["id"] == first["id"]
    assert registry.call("GET", f"/subjects/{subject}/versions") == (200, [2])


def test_lookup_of_a_registered_schema(registry: Registry, subject: str) -> None:
    _, registered = registry.register(subject, V1)
    body = {"schema": json.dumps(V1), "schemaType": "JSON"}

    found = registry.call("POST", f"/subjects/{subject}", body)
    other = registry.call("POST", f"/subjects/{subject}", {"schema": json.dumps(V2)})

    assert found[0] == 200
    assert (found[1]["id"], found[1]["version"]) == (registered["id"], 1)
    assert other[1]["error_code"] == 40403


def test_the_registry_needs_the_broker_token(registry: Registry, subject: str) -> None:
    anonymous = Registry(registry.broker, token=None)

    status, body = anonymous.call("GET", "/subjects")
    wrong = Registry(registry.broker, token="wrong").register(subject, V1)

    assert (status, body["error_code"]) == (401, 401)
    assert wrong[0] == 401
    assert registry.call("GET", f"/subjects/{subject}/versions")[1]["error_code"] == 40401


def test_a_malformed_body_is_a_400_in_the_registry_shape(registry: Registry, subject: str) -> None:
    status, body = registry.call("POST", f"/subjects/{subject}/versions", ["not", "an", "object"])

    assert status == 400
    assert body["error_code"] == 400


def test_schemas_equal_only_as_python_values_are_different_schemas(
    registry: Registry, subject: str
) -> None:
    registry.call("PUT", f"/config/{subject}", {"compatibility": "NONE"})

    _, true_id = registry.register(subject, {"const": True})
    _, one_id = registry.register(subject, {"const": 1})

    assert true_id != one_id
    assert registry.call("GET", f"/subjects/{subject}/versions") == (200, [1, 2])


def test_non_ascii_digits_are_not_numbers(registry: Registry, subject: str) -> None:
    registry.register(subject, V1)

    version = registry.call("GET", f"/subjects/{subject}/versions/%C2%B2")
    schema = registry.call("GET", "/schemas/ids/%C2%B2")

    assert (version[0], version[1]["error_code"]) == (422, 42202)
    assert (schema[0], schema[1]["error_code"]) == (404, 40403)
