"""A real broker process per module for the schema registry tests, with
helpers speaking the registry's REST API."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.broker import BrokerFactory, BrokerProcess, http_request
from tests.integration.outbox.drainer_process import drainer_process

__all__ = ["Registry", "drainer_process"]

TOKEN = "registry-test-token"


class Registry:
    """The registry API of one broker, as a Confluent client would call it."""

    def __init__(self, broker: BrokerProcess, token: str | None = TOKEN) -> None:
        self.broker = broker
        self.token = token

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/vnd.schemaregistry.v1+json"}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        raw = None if body is None else json.dumps(body).encode()
        return http_request(self.broker.port, method, path, body=raw, headers=headers)

    def register(self, subject: str, schema: dict[str, Any]) -> tuple[int, Any]:
        body = {"schema": json.dumps(schema), "schemaType": "JSON"}
        return self.call("POST", f"/subjects/{subject}/versions", body)

    def check(self, subject: str, version: str, schema: dict[str, Any]) -> tuple[int, Any]:
        body = {"schema": json.dumps(schema), "schemaType": "JSON"}
        return self.call("POST", f"/compatibility/subjects/{subject}/versions/{version}", body)


@pytest.fixture(scope="module")
def registry_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    factory = BrokerFactory(tmp_path_factory.mktemp("registry"))
    try:
        yield factory(env={"PROMETHEAN_BROKER_TOKEN": TOKEN})
    finally:
        factory.kill_all()


@pytest.fixture
def registry(registry_broker: BrokerProcess) -> Registry:
    return Registry(registry_broker)


@pytest.fixture
def subject() -> str:
    return f"orders-{uuid.uuid4().hex[:8]}-value"
