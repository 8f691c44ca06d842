"""``POST /publish/{topic}``: publish one event over HTTP.

* ``Authorization: Bearer <token>`` — the same tokens (and ACL) as ``AUTH``.
* The body is the payload: any JSON value, stored byte for byte.
* ``?key=`` and ``?id=`` set the partition key and the idempotency id.
* Each ``X-Promethean-Header-<name>: <value>`` request header becomes event
  header ``<name>`` (lower-cased, as HTTP header names are case-insensitive).

Answers ``200 {"id"}`` once the event is durable; errors are
``{"error": {"code", "msg"}}`` with 400/401/403/413, and 429 or 503 with
``Retry-After`` (seconds) when the gateway refuses work for now.
"""

from __future__ import annotations

import math
import time
from typing import Final

import msgspec
from aiohttp import web
from opentelemetry import trace

from promethean.auth import Action, AuthError
from promethean.errors import PrometheanError
from promethean.frames.checks import check_event_fields, check_name, check_payload
from promethean.frames.codes import KNOWN_CODES, ErrorCode
from promethean.runtime.http import json_response
from promethean.runtime.tracing import extract_context
from promethean_gateway.authn import Authenticator
from promethean_gateway.connection import traced_headers
from promethean_gateway.errors import RefusalError, broker_down, busy
from promethean_gateway.metrics import GatewayMetrics
from promethean_gateway.relay import BrokerRelay

HEADER_PREFIX: Final = "x-promethean-header-"
BEARER: Final = "bearer "

STATUS: Final[dict[str, int]] = {
    ErrorCode.UNAUTHORIZED.value: 401,
    ErrorCode.TOKEN_EXPIRED.value: 401,
    ErrorCode.FORBIDDEN.value: 403,
    ErrorCode.PAYLOAD_TOO_LARGE.value: 413,
    ErrorCode.FRAME_TOO_LARGE.value: 413,
    ErrorCode.OVERLOADED.value: 429,
    ErrorCode.RATE_LIMITED.value: 429,
    ErrorCode.STORE_UNAVAILABLE.value: 503,
    ErrorCode.NOT_LEADER.value: 503,
    ErrorCode.INTERNAL.value: 500,
}
_validator: Final = msgspec.json.Decoder()


def event_headers(request: web.Request) -> dict[str, str] | None:
    headers = {
        name[len(HEADER_PREFIX) :].lower(): value
        for name, value in request.headers.items()
        if name.lower().startswith(HEADER_PREFIX) and len(name) > len(HEADER_PREFIX)
    }
    return headers or None


class HttpPublish:
    def __init__(
        self,
        authenticator: Authenticator,
        relay: BrokerRelay,
        metrics: GatewayMetrics,
        tracer: trace.Tracer,
        max_body_bytes: int,
    ) -> None:
        self._auth = authenticator
        self._relay = relay
        self._metrics = metrics
        self._tracer = tracer
        self._max_body = max_body_bytes

    def error(self, err: PrometheanError) -> web.Response:
        code = err.code if err.code in KNOWN_CODES else ErrorCode.INTERNAL.value
        status = STATUS.get(code, 400)
        self._metrics.errors.labels(code).inc()
        body: dict[str, object] = {"code": code, "msg": err.msg}
        retry_ms = getattr(err, "retry_after_ms", None)
        response = json_response({"error": body}, status)
        if isinstance(retry_ms, int):
            body["retry_after_ms"] = retry_ms
            response = json_response({"error": body}, status)
            response.headers["Retry-After"] = str(max(1, math.ceil(retry_ms / 1000)))
        return response

    async def handle(self, request: web.Request) -> web.Response:
        try:
            return await self._handle(request)
        except PrometheanError as err:
            return self.error(err)

    async def _handle(self, request: web.Request) -> web.Response:
        self._metrics.frames.labels("HTTP_PUBLISH").inc()
        auth = request.headers.get("Authorization", "")
        if not auth.lower().startswith(BEARER):
            raise PrometheanError("a bearer token is required", code=ErrorCode.UNAUTHORIZED)
        try:
            identity = await self._auth.authenticate(auth[len(BEARER) :].strip())
        except AuthError as err:
            raise PrometheanError(err.msg, code=err.code) from None
        topic = request.match_info["topic"]
        check_name(topic, "topic")
        if not identity.policy.allows(Action.PUBLISH, topic):
            raise PrometheanError(f"publish to {topic} is not allowed", code=ErrorCode.FORBIDDEN)
        key = request.query.get("key")
        event_id = request.query.get("id")
        headers = event_headers(request)
        check_event_fields("", key=key, headers=headers, id=event_id)
        if request.content_length is not None and request.content_length > self._max_body:
            raise PrometheanError("the body is too large", code=ErrorCode.PAYLOAD_TOO_LARGE)
        body = await request.content.read(self._max_body + 1)
        if len(body) > self._max_body:
            raise PrometheanError("the body is too large", code=ErrorCode.PAYLOAD_TOO_LARGE)
        try:
            _validator.decode(body)
        except msgspec.DecodeError:
            raise PrometheanError("the body is not JSON", code=ErrorCode.BAD_JSON) from None
        payload = msgspec.Raw(body)
        check_payload(payload, "payload")
        if not self._relay.connected:
            raise broker_down()
        if self._relay.overloaded:
            raise busy("the gateway has too many publishes in flight")
        started = time.perf_counter()
        with self._tracer.start_as_current_span(
            f"publish {topic}",
            context=extract_context(headers),
            kind=trace.SpanKind.PRODUCER,
            attributes={"messaging.system": "promethean", "messaging.destination.name": topic},
        ):
            published = await self._relay.publish(
                topic, payload, key=key, headers=traced_headers(headers), id=event_id
            )
        self._metrics.relay_latency.labels("http").observe(time.perf_counter() - started)
        return json_response({"id": published.id})


__all__ = ["HttpPublish", "RefusalError"]
