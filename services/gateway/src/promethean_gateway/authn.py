"""Turns a presented token into an `Identity`: the dev-only static
``WS_TOKEN``, else a verified JWT. Counts every refusal by reason."""

from __future__ import annotations

import hmac

from promethean.auth import AuthError, AuthFailure, Identity, JwtVerifier
from promethean.auth.jwks import JwksCache
from promethean.auth.jwt import auth_error
from promethean.auth.policy import ALLOW_ALL
from promethean.settings import Secret
from promethean_gateway.metrics import GatewayMetrics
from promethean_gateway.settings import GatewaySettings

DEV_SUBJECT = "dev"


class Authenticator:
    def __init__(self, settings: GatewaySettings, metrics: GatewayMetrics) -> None:
        self._metrics = metrics
        self._ws_token: Secret | None = settings.ws_token
        self.jwks: JwksCache | None = None
        if settings.jwt.jwks_url is not None:
            self.jwks = JwksCache(
                settings.jwt.jwks_url,
                ttl_s=settings.jwks.ttl_s,
                max_keys=settings.jwks.max_keys,
                min_refresh_s=settings.jwks.min_refresh_s,
            )
        self._verifier = JwtVerifier(settings.jwt, self.jwks) if settings.jwt.configured else None

    async def authenticate(self, token: str) -> Identity:
        try:
            return await self._authenticate(token)
        except AuthError as err:
            self._metrics.auth_failures.labels(err.reason.value).inc()
            raise

    async def _authenticate(self, token: str) -> Identity:
        dev = self._ws_token
        if dev is not None and hmac.compare_digest(token.encode(), dev.reveal().encode()):
            return Identity(DEV_SUBJECT, ALLOW_ALL, None)
        if self._verifier is None:
            raise auth_error(AuthFailure.SIGNATURE, "unknown token")
        return await self._verifier.verify(token)

    async def close(self) -> None:
        if self.jwks is not None:
            await self.jwks.close()
