"""``GET /asyncapi.json`` and ``GET /openapi.json`` on the broker: the
AsyncAPI 3.0 document of the topics, their schemas and the gateway
protocol, and the OpenAPI 3.1 document of the broker's HTTP API."""

from __future__ import annotations

from importlib.metadata import version
from typing import Final

from aiohttp import web

from promethean.runtime.http import json_response
from promethean.schemas.documents.asyncapi import TopicDoc, asyncapi_document
from promethean.schemas.documents.openapi import broker_openapi
from promethean.schemas.subjects import value_subject
from promethean.store.port import Store

VERSION: Final = version("promethean")


class DocumentsApi:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._openapi = broker_openapi(VERSION)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/asyncapi.json", self.asyncapi),
            web.get("/openapi.json", self.openapi),
        ]

    async def asyncapi(self, request: web.Request) -> web.Response:
        topics = []
        for config in await self._store.list_topics():
            latest = await self._store.get_schema(value_subject(config.name))
            topics.append(
                TopicDoc(
                    name=config.name,
                    partitions=config.partitions,
                    validate=config.validate,
                    schema=latest.schema if latest else None,
                    schema_id=latest.id if latest else None,
                )
            )
        return json_response(asyncapi_document(topics, version=VERSION))

    async def openapi(self, request: web.Request) -> web.Response:
        return json_response(self._openapi)
