"""The API documents: AsyncAPI 3.0 accepted by the official parser
(``@asyncapi/parser`` from npm, tests/asyncapi), OpenAPI 3.1 accepted by
openapi-spec-validator, and schemathesis against the live broker: no 5xx
and no response that breaks the document."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from promethean.schemas.documents.openapi import gateway_openapi
from tests.fixtures.broker import BrokerFactory, BrokerProcess
from tests.integration.gateway.support import GatewayProcess
from tests.integration.schemas.conftest import TOKEN, Registry

PARSER_DIR = Path(__file__).resolve().parents[2] / "asyncapi"
SCHEMATHESIS_CASES = 300

ORDER: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$defs": {"qty": {"type": "integer", "minimum": 1}},
    "type": "object",
    "properties": {"id": {"type": "string"}, "qty": {"$ref": "#/$defs/qty"}},
    "required": ["id"],
}


def run_parser(document: dict[str, Any], tmp_path: Path) -> tuple[int, dict[str, Any]]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("node and npm are required (scripts/test.sh installs them)")
    if not (PARSER_DIR / "node_modules" / "@asyncapi" / "parser").is_dir():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=PARSER_DIR, check=True, timeout=600
        )
    path = tmp_path / "asyncapi.json"
    path.write_text(json.dumps(document))
    done = subprocess.run(
        [node, "check_asyncapi.mjs", str(path)],
        cwd=PARSER_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, json.loads(done.stdout)


def test_asyncapi_is_accepted_by_the_official_parser(registry: Registry, tmp_path: Path) -> None:
    topic = "docs.orders"
    registry.broker.post(
        "/topics",
        {"name": topic, "validate": True},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert registry.register(f"{topic}-value", ORDER)[0] == 200

    status, document = registry.call("GET", "/asyncapi.json")
    code, parsed = run_parser(document, tmp_path)

    assert status == 200
    assert document["asyncapi"] == "3.0.0"
    assert (code, parsed["errors"]) == (0, [])
    assert parsed["version"] == "3.0.0"
    assert topic in parsed["channels"]
    assert f"publish.{topic}" in parsed["operations"]
    payload = document["components"]["schemas"][f"topic.{topic}"]
    assert payload["properties"]["qty"] == {"$ref": f"#/components/schemas/topic.{topic}/$defs/qty"}


def test_the_parser_check_can_fail(registry: Registry, tmp_path: Path) -> None:
    _, document = registry.call("GET", "/asyncapi.json")
    document["operations"]["sendControl"]["action"] = "shout"

    code, parsed = run_parser(document, tmp_path)

    assert code == 1
    assert parsed["errors"]


def test_openapi_documents_are_valid_openapi_3_1(registry: Registry) -> None:
    status, broker_doc = registry.call("GET", "/openapi.json")

    assert status == 200
    assert broker_doc["openapi"] == "3.1.0"
    validate(broker_doc)
    validate(gateway_openapi("0.1.0"))
    assert "/subjects/{subject}/versions" in broker_doc["paths"]
    assert "/topics" in broker_doc["paths"]


def test_schemathesis_finds_no_5xx_and_no_response_off_the_document(
    registry_broker: BrokerProcess,
) -> None:
    _, document = Registry(registry_broker).call("GET", "/openapi.json")
    schema = schemathesis.openapi.from_dict(document)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    seen: set[str] = set()

    @settings(
        max_examples=SCHEMATHESIS_CASES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=schema.as_strategy())
    def exercise(case: Any) -> None:
        seen.add(f"{case.method} {case.path}")
        response = case.call(base_url=registry_broker.http_url, headers=headers)
        case.validate_response(response, checks=checks, headers=headers)

    exercise()
    assert len(seen) >= 20, seen


def test_the_gateway_serves_its_openapi_document(tmp_path: Path) -> None:
    brokers = BrokerFactory(tmp_path)
    gateway: GatewayProcess | None = None
    try:
        gateway = GatewayProcess(brokers(), {}, tmp_path)
        gateway.start()
        status, document = gateway.get("/openapi.json")
    finally:
        if gateway is not None:
            gateway.kill()
        brokers.kill_all()

    assert status == 200
    validate(document)
    assert list(document["paths"]) == [
        "/publish/{topic}",
        "/healthz/live",
        "/healthz/ready",
        "/metrics",
    ]
