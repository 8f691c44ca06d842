"""The schema registry's HTTP API on the broker's port, compatible with the
Confluent Schema Registry REST API for JSON Schema (docs/schemas.md).

Every refusal on these routes is ``{"error_code": N, "message": "..."}``
with Confluent's codes; the routes are guarded by the broker token like the
admin API. They read and write the store directly, so a standby broker
answers them too; the leader's publish gate drops its cached latest schema
of a subject the moment this process changes it (other replicas within
`LATEST_TTL_MS`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import web

from promethean.clock import Clock
from promethean.errors import StoreError
from promethean.runtime.http import json_response
from promethean.schemas import SchemaGate, SchemaRegistry
from promethean.schemas.errors import RegistryCode, RegistryError
from promethean.schemas.registry import (
    SCHEMA_TYPE,
    parse_compatibility,
    parse_schema,
    schema_text,
)
from promethean.store.port import Store
from promethean.store.records import SchemaVersion
from promethean_broker.documents import DocumentsApi

log = logging.getLogger("promethean.broker.registry")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RegisterBody(msgspec.Struct):
    schema: str
    schemaType: str | None = None  # noqa: N815 - Confluent's field name
    references: list[Any] | None = None


class ConfigBody(msgspec.Struct):
    compatibility: str | None = None
    compatibilityLevel: str | None = None  # noqa: N815 - accepted as Confluent does


def registry_error(err: RegistryError) -> web.Response:
    return json_response({"error_code": int(err.error_code), "message": err.msg}, err.status)


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "false").lower() == "true"


def _version_json(version: SchemaVersion) -> dict[str, Any]:
    return {
        "subject": version.subject,
        "version": version.version,
        "id": version.id,
        "schemaType": SCHEMA_TYPE,
        "schema": schema_text(version.schema),
    }


async def _body(request: web.Request, kind: type[msgspec.Struct]) -> Any:
    try:
        return msgspec.json.decode(await request.read(), type=kind)
    except (msgspec.ValidationError, msgspec.DecodeError) as err:
        raise RegistryError(RegistryCode.BAD_REQUEST, f"Invalid request body: {err}") from None


async def _schema_of(request: web.Request) -> dict[str, Any]:
    body: RegisterBody = await _body(request, RegisterBody)
    if body.references:
        raise RegistryError(
            RegistryCode.INVALID_SCHEMA, "Invalid schema: references are not supported"
        )
    return parse_schema(body.schema, body.schemaType)


def _answered(handler: Handler) -> Handler:
    """``handler`` with registry and store failures answered in Confluent's shape."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except RegistryError as err:
            return registry_error(err)
        except StoreError as err:
            log.warning("schema registry store failure", extra={"error": str(err)})
            return json_response(
                {
                    "error_code": int(RegistryCode.STORE_ERROR),
                    "message": "Error in the backend data store",
                },
                500,
            )

    return guarded


class RegistryApi:
    """The routes, the registry service and the publish gate it keeps fresh."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.gate = SchemaGate(store, clock)
        self.registry = SchemaRegistry(store, on_change=self.gate.forget)
        self.documents = DocumentsApi(store)

    def routes(self) -> list[web.RouteDef]:
        """Who may call them is the access middleware's business."""
        g = _answered
        return [
            web.get("/subjects", g(self.subjects)),
            web.get("/schemas/types", g(self.types)),
            web.get("/schemas/ids/{id}", g(self.schema_by_id)),
            web.get("/schemas/ids/{id}/schema", g(self.raw_schema_by_id)),
            web.post("/subjects/{subject}", g(self.lookup)),
            web.delete("/subjects/{subject}", g(self.delete_subject)),
            web.get("/subjects/{subject}/versions", g(self.versions)),
            web.post("/subjects/{subject}/versions", g(self.register)),
            web.get("/subjects/{subject}/versions/{version}", g(self.version)),
            web.get("/subjects/{subject}/versions/{version}/schema", g(self.raw_version)),
            web.delete("/subjects/{subject}/versions/{version}", g(self.delete_version)),
            web.post("/compatibility/subjects/{subject}/versions", g(self.check_all)),
            web.post("/compatibility/subjects/{subject}/versions/{version}", g(self.check_one)),
            web.get("/config", g(self.get_global)),
            web.put("/config", g(self.put_global)),
            web.get("/config/{subject}", g(self.get_subject_config)),
            web.put("/config/{subject}", g(self.put_subject_config)),
            web.delete("/config/{subject}", g(self.delete_subject_config)),
            *self.documents.routes(),
        ]

    # -- schemas and subjects ----------------------------------------------------

    async def subjects(self, request: web.Request) -> web.Response:
        return json_response(await self.registry.subjects(deleted=_flag(request, "deleted")))

    async def types(self, request: web.Request) -> web.Response:
        return json_response([SCHEMA_TYPE])

    async def _by_id(self, request: web.Request) -> dict[str, Any]:
        raw = request.match_info["id"]
        if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) < 2**31:
            raise RegistryError(RegistryCode.SCHEMA_NOT_FOUND, f"Schema {raw} not found")
        return await self.registry.by_id(int(raw))

    async def schema_by_id(self, request: web.Request) -> web.Response:
        schema = await self._by_id(request)
        return json_response({"schemaType": SCHEMA_TYPE, "schema": schema_text(schema)})

    async def raw_schema_by_id(self, request: web.Request) -> web.Response:
        return json_response(await self._by_id(request))

    async def register(self, request: web.Request) -> web.Response:
        subject = request.match_info["subject"]
        registered = await self.registry.register(subject, await _schema_of(request))
        return json_response({"id": registered.id})

    async def lookup(self, request: web.Request) -> web.Response:
        subject = request.match_info["subject"]
        found = await self.registry.lookup(subject, await _schema_of(request))
        return json_response(_version_json(found))

    async def versions(self, request: web.Request) -> web.Response:
        subject = request.match_info["subject"]
        return json_response(
            await self.registry.versions(subject, deleted=_flag(request, "deleted"))
        )

    async def version(self, request: web.Request) -> web.Response:
        found = await self.registry.version(
            request.match_info["subject"],
            request.match_info["version"],
            deleted=_flag(request, "deleted"),
        )
        return json_response(_version_json(found))

    async def raw_version(self, request: web.Request) -> web.Response:
        found = await self.registry.version(
            request.match_info["subject"], request.match_info["version"]
        )
        return json_response(found.schema)

    async def delete_version(self, request: web.Request) -> web.Response:
        number = await self.registry.delete_version(
            request.match_info["subject"],
            request.match_info["version"],
            permanent=_flag(request, "permanent"),
        )
        return json_response(number)

    async def delete_subject(self, request: web.Request) -> web.Response:
        numbers = await self.registry.delete_subject(
            request.match_info["subject"], permanent=_flag(request, "permanent")
        )
        return json_response(numbers)

    # -- compatibility -----------------------------------------------------------

    async def check_all(self, request: web.Request) -> web.Response:
        return await self._check(request, None)

    async def check_one(self, request: web.Request) -> web.Response:
        return await self._check(request, request.match_info["version"])

    async def _check(self, request: web.Request, version: str | None) -> web.Response:
        subject = request.match_info["subject"]
        schema = await _schema_of(request)
        report = await self.registry.check(subject, schema, version)
        return json_response({"is_compatible": report.is_compatible, "messages": report.messages})

    # -- configuration -----------------------------------------------------------

    async def get_global(self, request: web.Request) -> web.Response:
        level = await self.registry.level(None)
        return json_response({"compatibilityLevel": level.value})

    async def put_global(self, request: web.Request) -> web.Response:
        return await self._put_config(request, None)

    async def get_subject_config(self, request: web.Request) -> web.Response:
        subject = request.match_info["subject"]
        if _flag(request, "defaultToGlobal"):
            level = await self.registry.level(subject)
        else:
            own = await self.registry.subject_level(subject)
            if own is None:
                raise RegistryError(
                    RegistryCode.SUBJECT_CONFIG_NOT_FOUND,
                    f"Subject '{subject}' does not have subject-level compatibility configured",
                )
            level = own
        return json_response({"compatibilityLevel": level.value})

    async def put_subject_config(self, request: web.Request) -> web.Response:
        return await self._put_config(request, request.match_info["subject"])

    async def _put_config(self, request: web.Request, subject: str | None) -> web.Response:
        body: ConfigBody = await _body(request, ConfigBody)
        level = parse_compatibility(body.compatibility or body.compatibilityLevel)
        await self.registry.set_level(subject, level)
        return json_response({"compatibility": level.value})

    async def delete_subject_config(self, request: web.Request) -> web.Response:
        previous = await self.registry.clear_level(request.match_info["subject"])
        return json_response({"compatibilityLevel": previous.value})
