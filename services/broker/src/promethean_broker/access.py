"""Who may call the broker's HTTP API, and the audit record of each change.

A caller signs in with ``Authorization: Bearer <token>``, where the token is
either the broker token (``PROMETHEAN_BROKER_TOKEN``: full rights) or a JWT
verified with ``JWT_SECRET`` whose ``scopes`` grant ``admin:*`` (full rights)
or ``read:*`` (reads only: ``GET``/``HEAD``). With neither configured the API
is open, as it always was for a dev broker.

Health, metrics, the WebSocket endpoints (they have their own ``AUTH``
frame) and the console's static files are public; every other path is
guarded, so admin routes added later are guarded by default.

Handlers record their changes on ``system.bus.audit`` through a sink
wrapped by `with_caller`, which adds who made the change (``subject``,
``role``): the middleware keeps the signed-in caller in a context variable
for the request's task.
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from promethean.auth import AuthError, JwtConfig, JwtVerifier
from promethean.auth.jwt import HMAC_ALGORITHMS, default_algorithms
from promethean.errors import SettingsError
from promethean.frames.codes import ErrorCode
from promethean.runtime.http import error_response, json_response
from promethean.settings import EnvReader
from promethean.settings.secret import Secret
from promethean_broker.admin import Handler

ADMIN_SCOPES: Final = frozenset({"admin:*", "admin:**"})
READ_SCOPES: Final = frozenset({"read:*", "read:**"})
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_EXACT: Final = frozenset({"/", "/ws", "/metrics", "/console", "/console/"})
PUBLIC_PREFIXES: Final = ("/healthz/", "/console/static/")
REGISTRY_PREFIXES: Final = ("/subjects", "/schemas/", "/config", "/compatibility/")
"""Schema registry paths answer refusals in Confluent's shape, as their clients expect."""
MIN_SECRET_BYTES: Final = 32
"""RFC 7518 §3.2: an HS256 key is at least as long as the hash."""
CALLER_KEY: Final = "promethean.caller"
"""Where the middleware leaves the signed-in `Caller` on the request."""

MSG_SIGN_IN: Final = "sign in with the broker token or a JWT granting admin:* or read:*"
MSG_READ_ONLY: Final = "this sign-in is read-only (read:*); changes need admin:*"
MSG_NO_ROLE: Final = "the token grants neither admin:* nor read:*"

AuditSink = Callable[[dict[str, Any]], None]


class Role(enum.StrEnum):
    ADMIN = "admin"
    READ = "read"


@dataclass(frozen=True, slots=True)
class Caller:
    role: Role
    subject: str | None
    """The JWT's ``sub``; ``broker-token`` or ``anonymous`` otherwise."""

    @property
    def can_write(self) -> bool:
        return self.role is Role.ADMIN


class DeniedError(Exception):
    def __init__(self, status: int, code: str, msg: str) -> None:
        super().__init__(msg)
        self.status = status
        self.code = code
        self.msg = msg


def read_jwt_config(env: EnvReader) -> JwtConfig:
    """``JWT_SECRET`` (HS256), ``JWT_AUD`` and ``JWT_ISS`` for console and
    admin sign-in; unset, only the broker token signs in."""
    secret = env.secret("JWT_SECRET")
    if secret is not None and len(secret.reveal().encode()) < MIN_SECRET_BYTES:
        raise SettingsError("JWT_SECRET", "(secret)", f"at least {MIN_SECRET_BYTES} bytes")
    return JwtConfig(
        secret=secret,
        audience=env.raw("JWT_AUD"),
        issuer=env.raw("JWT_ISS"),
        algorithms=default_algorithms(secret, None, None) & HMAC_ALGORITHMS,
    )


def is_public(path: str) -> bool:
    return path in PUBLIC_EXACT or path.startswith(PUBLIC_PREFIXES)


def refusal(path: str, status: int, code: str, msg: str) -> web.Response:
    if path.startswith(REGISTRY_PREFIXES):
        return json_response({"error_code": status, "message": msg}, status)
    return error_response(status, code, msg)


class Access:
    def __init__(self, token: Secret | None, jwt: JwtConfig) -> None:
        self._token = token.reveal().encode() if token is not None else None
        self._verifier = JwtVerifier(jwt) if jwt.configured else None

    @property
    def open(self) -> bool:
        return self._token is None and self._verifier is None

    async def caller(self, authorization: str | None) -> Caller:
        """The `Caller` a request's ``Authorization`` header signs in as, or `DeniedError`."""
        if self.open:
            return Caller(Role.ADMIN, "anonymous")
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise DeniedError(401, ErrorCode.UNAUTHORIZED, MSG_SIGN_IN)
        if self._token is not None and hmac.compare_digest(token.encode(), self._token):
            return Caller(Role.ADMIN, "broker-token")
        if self._verifier is None or token.count(".") != 2:
            raise DeniedError(401, ErrorCode.UNAUTHORIZED, MSG_SIGN_IN)
        try:
            identity = await self._verifier.verify(token)
        except AuthError as err:
            raise DeniedError(401, ErrorCode.UNAUTHORIZED, err.msg) from None
        scopes = set(identity.scopes)
        if scopes & ADMIN_SCOPES:
            return Caller(Role.ADMIN, identity.subject)
        if scopes & READ_SCOPES:
            return Caller(Role.READ, identity.subject)
        raise DeniedError(403, ErrorCode.FORBIDDEN, MSG_NO_ROLE)


_CURRENT: ContextVar[Caller | None] = ContextVar("promethean_caller", default=None)


def with_caller(sink: AuditSink) -> AuditSink:
    """``sink`` with the current request's caller added to every record."""

    def record(entry: dict[str, Any]) -> None:
        caller = _CURRENT.get()
        if caller is not None:
            entry = {**entry, "subject": caller.subject, "role": caller.role.value}
        sink(entry)

    return record


def caller_of(request: web.Request) -> Caller:
    caller = request.get(CALLER_KEY)
    if not isinstance(caller, Caller):
        raise RuntimeError("the access middleware did not run for this route")
    return caller


def access_control(access: Access) -> Any:
    """The middleware: sign the caller in and refuse changes to readers."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if is_public(request.path):
            return await handler(request)
        try:
            caller = await access.caller(request.headers.get("Authorization"))
        except DeniedError as denied:
            return refusal(request.path, denied.status, denied.code, denied.msg)
        if request.method not in SAFE_METHODS and not caller.can_write:
            return refusal(request.path, 403, ErrorCode.FORBIDDEN, MSG_READ_ONLY)
        request[CALLER_KEY] = caller
        token = _CURRENT.set(caller)
        try:
            return await handler(request)
        finally:
            _CURRENT.reset(token)

    return guard
