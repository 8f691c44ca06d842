"""AsyncAPI 3.0 document of the bus as a client sees it through the
gateway: one channel per topic (payload = the latest schema of
``<topic>-value`` when one is registered), its send (PUBLISH) and receive
(EVENT) operations, and the gateway's control frames (AUTH, SUBSCRIBE, ACK,
...) on the connection channel."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from promethean.frames import gateway as gf

ASYNCAPI_VERSION: Final = "3.0.0"
_COMPONENTS: Final = "#/components/schemas/"
_CONTROL_FRAMES: Final = (
    gf.GwAuth,
    gf.GwPublish,
    gf.GwSubscribe,
    gf.GwAck,
    gf.GwNack,
    gf.GwModack,
    gf.GwUnsubscribe,
    gf.GwOk,
    gf.GwEvent,
    gf.GwErr,
)
_CLIENT_FRAMES: Final = (
    "GwAuth",
    "GwPublish",
    "GwSubscribe",
    "GwAck",
    "GwNack",
    "GwModack",
    "GwUnsubscribe",
)
_SERVER_FRAMES: Final = ("GwOk", "GwEvent", "GwErr")


@dataclass(frozen=True, slots=True)
class TopicDoc:
    name: str
    partitions: int
    validate: bool
    schema: dict[str, Any] | None
    schema_id: int | None


def component_id(name: str) -> str:
    """An AsyncAPI component key (``^[a-zA-Z0-9.\\-_]+$``) for a topic name."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def _rebase(value: Any, base: str) -> Any:
    """Point the schema's in-document ``$ref``s at where it now lives."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str) and item.startswith("#"):
                out[key] = base + item[1:]
            elif key in ("$schema", "$id"):
                continue
            else:
                out[key] = _rebase(item, base)
        return out
    if isinstance(value, list):
        return [_rebase(item, base) for item in value]
    return value


def _frame_schemas() -> dict[str, Any]:
    _, components = msgspec.json.schema_components(
        _CONTROL_FRAMES, ref_template=_COMPONENTS + "{name}"
    )
    return dict(components)


def asyncapi_document(
    topics: Sequence[TopicDoc], *, version: str, gateway_host: str = "localhost:8090"
) -> dict[str, Any]:
    schemas = _frame_schemas()
    messages: dict[str, Any] = {
        name: {
            "name": name.removeprefix("Gw").upper(),
            "contentType": "application/json",
            "payload": {"$ref": _COMPONENTS + name},
        }
        for name in (*_CLIENT_FRAMES, *_SERVER_FRAMES)
    }
    channels: dict[str, Any] = {
        "connection": {
            "address": "/ws",
            "title": "Gateway connection",
            "description": "Control frames of the gateway protocol (docs/protocol.md).",
            "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
        }
    }
    operations: dict[str, Any] = {
        "sendControl": {
            "action": "send",
            "channel": {"$ref": "#/channels/connection"},
            "messages": [{"$ref": f"#/channels/connection/messages/{n}"} for n in _CLIENT_FRAMES],
        },
        "receiveControl": {
            "action": "receive",
            "channel": {"$ref": "#/channels/connection"},
            "messages": [{"$ref": f"#/channels/connection/messages/{n}"} for n in _SERVER_FRAMES],
        },
    }
    for topic in sorted(topics, key=lambda t: t.name):
        key = "topic." + component_id(topic.name)
        payload: dict[str, Any] = {}
        if topic.schema is not None:
            schemas[key] = _rebase(topic.schema, f"{_COMPONENTS}{key}")
            payload = {"$ref": _COMPONENTS + key}
        messages[key] = {
            "name": topic.name,
            "title": f"Event of {topic.name}",
            "contentType": "application/json",
            "payload": payload,
            **({"x-promethean-schema-id": topic.schema_id} if topic.schema_id else {}),
        }
        channels[key] = {
            "address": topic.name,
            "description": (
                f"Topic {topic.name}: {topic.partitions} partition(s); payloads "
                + ("are validated on publish." if topic.validate else "are not validated.")
            ),
            "messages": {"event": {"$ref": f"#/components/messages/{key}"}},
        }
        operations[f"publish.{component_id(topic.name)}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": f"PUBLISH to {topic.name}",
            "messages": [{"$ref": f"#/channels/{key}/messages/event"}],
        }
        operations[f"receive.{component_id(topic.name)}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": f"EVENT from {topic.name} after SUBSCRIBE",
            "messages": [{"$ref": f"#/channels/{key}/messages/event"}],
        }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Promethean Event Bus",
            "version": version,
            "description": "Topics, their registered schemas and the gateway protocol.",
        },
        "servers": {
            "gateway": {
                "host": gateway_host,
                "protocol": "ws",
                "pathname": "/ws",
                "description": "The client-facing gateway (JWT AUTH first).",
            }
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }
