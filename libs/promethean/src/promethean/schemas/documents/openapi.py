"""OpenAPI 3.1 documents of the broker's HTTP API (admin, schema registry,
documents, health, metrics) and of the gateway's (publish, health,
metrics)."""

from __future__ import annotations

from typing import Any, Final

OPENAPI_VERSION: Final = "3.1.0"
_REF: Final = "#/components/schemas/"
JSON_CT: Final = "application/json"

_OBJECT: Final = {"type": "object"}
_ANY: Final[dict[str, Any]] = {}

COMMON_SCHEMAS: Final[dict[str, Any]] = {
    "AdminError": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "msg"],
                "properties": {
                    "code": {"type": "string"},
                    "msg": {"type": "string"},
                    "retry_after_ms": {"type": "integer"},
                },
            }
        },
    },
    "RegistryError": {
        "type": "object",
        "required": ["error_code", "message"],
        "properties": {"error_code": {"type": "integer"}, "message": {"type": "string"}},
    },
    "Error": {"anyOf": [{"$ref": _REF + "AdminError"}, {"$ref": _REF + "RegistryError"}]},
    "TopicConfig": {
        "type": "object",
        "required": ["name", "partitions"],
        "properties": {
            "name": {"type": "string"},
            "partitions": {"type": "integer", "minimum": 1},
            "max_attempts": {"type": "integer"},
            "cleanup": {"type": "string", "enum": ["delete", "compact", "compact,delete"]},
            "retention_ms": {"type": ["integer", "null"]},
            "retention_events": {"type": ["integer", "null"]},
            "retention_force": {"type": "boolean"},
            "tombstone_retention_ms": {"type": ["integer", "null"]},
            "snapshot_every": {"type": ["integer", "null"]},
            "compact_beyond_commits": {"type": "boolean"},
            "created_ms": {"type": "integer"},
            "validate": {"type": "boolean"},
        },
    },
    "TopicCreate": {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string"},
            "partitions": {"type": "integer", "minimum": 1, "maximum": 1024},
            "max_attempts": {"type": "integer", "minimum": 1, "maximum": 1000},
            "cleanup": {"type": "string", "enum": ["delete", "compact", "compact,delete"]},
            "retention_ms": {"type": "integer"},
            "retention_events": {"type": "integer"},
            "retention_force": {"type": "boolean"},
            "tombstone_retention_ms": {"type": "integer"},
            "snapshot_every": {"type": "integer"},
            "compact_beyond_commits": {"type": "boolean"},
            "validate": {"type": "boolean"},
        },
    },
    "RegisterSchema": {
        "type": "object",
        "required": ["schema"],
        "properties": {
            "schema": {"type": "string", "description": "The JSON Schema as JSON text."},
            "schemaType": {"type": "string", "enum": ["JSON"]},
            "references": {"type": "array", "maxItems": 0},
        },
    },
    "SchemaVersion": {
        "type": "object",
        "required": ["subject", "version", "id", "schema"],
        "properties": {
            "subject": {"type": "string"},
            "version": {"type": "integer"},
            "id": {"type": "integer"},
            "schemaType": {"type": "string"},
            "schema": {"type": "string"},
        },
    },
    "CompatibilityLevel": {
        "type": "string",
        "enum": [
            "NONE",
            "BACKWARD",
            "BACKWARD_TRANSITIVE",
            "FORWARD",
            "FORWARD_TRANSITIVE",
            "FULL",
            "FULL_TRANSITIVE",
        ],
    },
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON_CT: {"schema": schema}}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": _REF + name}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): _json(_ref("Error"), "refused") for s in statuses}


def _op(
    summary: str,
    ok: dict[str, Any],
    *,
    errors: tuple[int, ...] = (400, 401, 404, 503),
    params: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    secured: bool = True,
    ok_status: str = "200",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "responses": {ok_status: ok, **(extra or {}), **_errors(*errors)},
    }
    if params:
        operation["parameters"] = params
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {JSON_CT: {"schema": body}}}
    if not secured:
        operation["security"] = []
    return operation


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _query(
    name: str, schema: dict[str, Any] | None = None, *, required: bool = False
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema or {"type": "string"},
    }


_FLAG: Final = {"type": "string", "enum": ["true", "false"]}


def _health() -> dict[str, Any]:
    live = {"type": "object", "required": ["live"], "properties": {"live": {"type": "boolean"}}}
    ready = {"type": "object", "required": ["ready"], "properties": {"ready": {"type": "boolean"}}}
    text = {
        "description": "Prometheus text format",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
    return {
        "/healthz/live": {
            "get": _op(
                "Liveness",
                _json(live, "alive"),
                errors=(),
                secured=False,
                extra={"503": _json(live, "stalled")},
            )
        },
        "/healthz/ready": {
            "get": _op(
                "Readiness",
                _json(ready, "ready"),
                errors=(),
                secured=False,
                extra={"503": _json(ready, "not ready")},
            )
        },
        "/metrics": {"get": _op("Prometheus metrics", text, errors=(), secured=False)},
    }


def _admin() -> dict[str, Any]:
    topics_list = {
        "type": "object",
        "required": ["topics"],
        "properties": {"topics": {"type": "array", "items": _ref("TopicConfig")}},
    }
    return {
        "/topics": {
            "get": _op("List topics", _json(topics_list, "topics"), errors=(401, 503)),
            "post": _op(
                "Create a topic or change its settings",
                _json(_ref("TopicConfig"), "updated"),
                body=_ref("TopicCreate"),
                errors=(400, 401, 409, 413, 503),
                extra={"201": _json(_ref("TopicConfig"), "created")},
            ),
        },
        "/topics/{topic}/offsets": {
            "get": _op(
                "Earliest and latest offsets per partition",
                _json(_OBJECT, "offsets"),
                params=[_path("topic")],
            )
        },
        "/groups/{group}": {
            "get": _op(
                "A consumer group: members, assignment, lag",
                _json(_OBJECT, "group"),
                params=[_path("group")],
            )
        },
        "/lag": {
            "get": _op(
                "Lag of a group on a topic",
                _json(_OBJECT, "lag"),
                params=[_query("topic", required=True), _query("group", required=True)],
            )
        },
        "/cursors": {
            "get": _op(
                "Committed offsets of every group on a topic",
                _json(_OBJECT, "cursors"),
                params=[_query("topic", required=True)],
            )
        },
        "/latest-by-key": {
            "get": _op(
                "The latest event carrying a key",
                _json(_OBJECT, "event"),
                params=[_query("topic", required=True), _query("key", required=True)],
            )
        },
        "/stats": {
            "get": _op(
                "Store row counts and engine figures", _json(_OBJECT, "stats"), errors=(401, 503)
            )
        },
    }


def _registry() -> dict[str, Any]:
    subject = _path("subject")
    version = _path("version")
    ints = {"type": "array", "items": {"type": "integer"}}
    level = {
        "type": "object",
        "required": ["compatibilityLevel"],
        "properties": {"compatibilityLevel": _ref("CompatibilityLevel")},
    }
    config_body = {"type": "object", "properties": {"compatibility": _ref("CompatibilityLevel")}}
    compat = {
        "type": "object",
        "required": ["is_compatible"],
        "properties": {
            "is_compatible": {"type": "boolean"},
            "messages": {"type": "array", "items": {"type": "string"}},
        },
    }
    by_id = {
        "type": "object",
        "required": ["schema"],
        "properties": {"schema": {"type": "string"}, "schemaType": {"type": "string"}},
    }
    writes = (400, 401, 404, 409, 413, 422, 500)
    reads = (400, 401, 404, 422, 500)
    return {
        "/subjects": {
            "get": _op(
                "Subjects",
                _json({"type": "array", "items": {"type": "string"}}, "subjects"),
                params=[_query("deleted", _FLAG)],
                errors=(401, 500),
            )
        },
        "/schemas/types": {
            "get": _op(
                "Schema types",
                _json({"type": "array", "items": {"type": "string"}}, "types"),
                errors=(401,),
            )
        },
        "/schemas/ids/{id}": {
            "get": _op(
                "A schema by its global id",
                _json(by_id, "schema"),
                params=[_path("id")],
                errors=reads,
            )
        },
        "/schemas/ids/{id}/schema": {
            "get": _op(
                "The raw schema by id", _json(_OBJECT, "schema"), params=[_path("id")], errors=reads
            )
        },
        "/subjects/{subject}": {
            "post": _op(
                "Is this schema registered under the subject?",
                _json(_ref("SchemaVersion"), "found"),
                params=[subject],
                body=_ref("RegisterSchema"),
                errors=writes,
            ),
            "delete": _op(
                "Delete a subject (soft, or permanent after soft)",
                _json(ints, "deleted versions"),
                params=[subject, _query("permanent", _FLAG)],
                errors=reads,
            ),
        },
        "/subjects/{subject}/versions": {
            "get": _op(
                "Versions of a subject",
                _json(ints, "versions"),
                params=[subject, _query("deleted", _FLAG)],
                errors=reads,
            ),
            "post": _op(
                "Register a schema",
                _json(
                    {
                        "type": "object",
                        "required": ["id"],
                        "properties": {"id": {"type": "integer"}},
                    },
                    "registered",
                ),
                params=[subject],
                body=_ref("RegisterSchema"),
                errors=writes,
            ),
        },
        "/subjects/{subject}/versions/{version}": {
            "get": _op(
                "One version (or latest)",
                _json(_ref("SchemaVersion"), "version"),
                params=[subject, version, _query("deleted", _FLAG)],
                errors=reads,
            ),
            "delete": _op(
                "Delete a version (soft, or permanent after soft)",
                _json({"type": "integer"}, "deleted version"),
                params=[subject, version, _query("permanent", _FLAG)],
                errors=reads,
            ),
        },
        "/subjects/{subject}/versions/{version}/schema": {
            "get": _op(
                "The raw schema of a version",
                _json(_OBJECT, "schema"),
                params=[subject, version],
                errors=reads,
            )
        },
        "/compatibility/subjects/{subject}/versions": {
            "post": _op(
                "Test against the versions the subject's level requires",
                _json(compat, "result"),
                params=[subject],
                body=_ref("RegisterSchema"),
                errors=writes,
            )
        },
        "/compatibility/subjects/{subject}/versions/{version}": {
            "post": _op(
                "Test against one version",
                _json(compat, "result"),
                params=[subject, version],
                body=_ref("RegisterSchema"),
                errors=writes,
            )
        },
        "/config": {
            "get": _op("Global compatibility level", _json(level, "level"), errors=(401, 500)),
            "put": _op(
                "Set the global compatibility level",
                _json(
                    {"type": "object", "properties": {"compatibility": _ref("CompatibilityLevel")}},
                    "set",
                ),
                body=config_body,
                errors=(400, 401, 413, 422, 500),
            ),
        },
        "/config/{subject}": {
            "get": _op(
                "Compatibility level of a subject",
                _json(level, "level"),
                params=[subject, _query("defaultToGlobal", _FLAG)],
                errors=reads,
            ),
            "put": _op(
                "Set a subject's compatibility level",
                _json(
                    {"type": "object", "properties": {"compatibility": _ref("CompatibilityLevel")}},
                    "set",
                ),
                params=[subject],
                body=config_body,
                errors=writes,
            ),
            "delete": _op(
                "Remove a subject's own level",
                _json(level, "previous level"),
                params=[subject],
                errors=reads,
            ),
        },
    }


def _documents() -> dict[str, Any]:
    return {
        "/asyncapi.json": {
            "get": _op(
                "AsyncAPI 3.0 document of topics and the gateway protocol",
                _json(_OBJECT, "document"),
                errors=(401, 500),
            )
        },
        "/openapi.json": {"get": _op("This document", _json(_OBJECT, "document"), errors=(401,))},
    }


def _document(title: str, version: str, paths: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {
            "schemas": COMMON_SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def broker_openapi(version: str) -> dict[str, Any]:
    return _document(
        "Promethean broker HTTP API",
        version,
        {**_admin(), **_registry(), **_documents(), **_health()},
        "Admin API, Confluent-compatible schema registry (JSON Schema), API documents, "
        "health and metrics. Guarded by the broker token (Authorization: Bearer).",
    )


def gateway_openapi(version: str) -> dict[str, Any]:
    published = {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}
    publish = _op(
        "Publish one event (the body is the JSON payload)",
        _json(published, "stored"),
        params=[_path("topic"), _query("key"), _query("id")],
        body=_ANY,
        errors=(400, 401, 403, 413, 429, 503),
    )
    return _document(
        "Promethean gateway HTTP API",
        version,
        {"/publish/{topic}": {"post": publish}, **_health()},
        "HTTP publish with a JWT bearer token; X-Promethean-Header-<name> request "
        "headers become event headers.",
    )
