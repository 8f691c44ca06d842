"""Signing keys fetched from a JWKS URL (aiohttp), cached and bounded.

The key set is fetched on first use and again when it is older than its TTL
or a token names a ``kid`` it does not hold — but never more often than the
refresh interval, so tokens with made-up ``kid`` values cannot make the
gateway hammer the identity provider. The set keeps at most ``max_keys``
keys and reads at most ``max_bytes`` of response.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

import aiohttp
import jwt

from promethean.auth.errors import AuthFailure
from promethean.auth.jwt import EC_ALGORITHMS, RSA_ALGORITHMS, auth_error

log = logging.getLogger("promethean.auth.jwks")

DEFAULT_TTL_S: Final = 300.0
DEFAULT_MAX_KEYS: Final = 32
DEFAULT_MIN_REFRESH_S: Final = 10.0
DEFAULT_TIMEOUT_S: Final = 5.0
MAX_JWKS_BYTES: Final = 256 * 1024

Fetch = Callable[[], Awaitable[bytes]]


class JwksCache:
    """A `promethean.auth.jwt.KeySource` backed by a JWKS document."""

    def __init__(
        self,
        url: str,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        max_keys: int = DEFAULT_MAX_KEYS,
        min_refresh_s: float = DEFAULT_MIN_REFRESH_S,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        fetch: Fetch | None = None,
    ) -> None:
        self.url = url
        self.ttl_s = ttl_s
        self.max_keys = max_keys
        self.min_refresh_s = min_refresh_s
        self.timeout_s = timeout_s
        self._fetch = fetch or self._http_fetch
        self._keys: dict[str | None, tuple[jwt.PyJWK, str | None]] = {}
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None
        self.fetches = 0

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _http_fetch(self) -> bytes:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_s)
            )
        async with self._session.get(self.url) as response:
            response.raise_for_status()
            body = await response.content.read(MAX_JWKS_BYTES + 1)
        if len(body) > MAX_JWKS_BYTES:
            raise ValueError(f"JWKS document larger than {MAX_JWKS_BYTES} bytes")
        return body

    def _parse(self, body: bytes) -> dict[str | None, tuple[jwt.PyJWK, str | None]]:
        document = json.loads(body)
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise ValueError("JWKS document has no `keys` list")
        keys: dict[str | None, tuple[jwt.PyJWK, str | None]] = {}
        for entry in entries:
            if len(keys) >= self.max_keys:
                log.warning(
                    "JWKS holds more keys than the cache keeps", extra={"max": self.max_keys}
                )
                break
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.PyJWK(entry)
            except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
                continue
            kid = entry.get("kid")
            alg = entry.get("alg")
            keys[kid if isinstance(kid, str) else None] = (
                key,
                alg if isinstance(alg, str) else None,
            )
        return keys

    async def _refresh(self, *, force: bool) -> None:
        async with self._lock:
            now = time.monotonic()
            if now - self._attempted_at < self.min_refresh_s:
                return  # rate limit: another caller just tried
            if not force and now - self._fetched_at < self.ttl_s:
                return
            self._attempted_at = now
            self.fetches += 1
            try:
                keys = self._parse(await self._fetch())
            except Exception as exc:
                # Keep serving the keys we have; tokens signed by them still verify.
                log.warning("JWKS fetch failed", extra={"url": self.url, "error": str(exc)})
                return
            self._keys = keys
            self._fetched_at = now

    async def key(self, kid: str | None, algorithm: str) -> Any:
        if time.monotonic() - self._fetched_at >= self.ttl_s:
            await self._refresh(force=False)
        found = self._lookup(kid)
        if found is None:
            await self._refresh(force=True)
            found = self._lookup(kid)
        if found is None:
            if not self._keys and self._fetched_at == float("-inf"):
                raise auth_error(AuthFailure.KEYS_UNAVAILABLE)
            raise auth_error(AuthFailure.UNKNOWN_KID)
        key, declared = found
        family = RSA_ALGORITHMS if key.key_type == "RSA" else EC_ALGORITHMS
        if algorithm not in family or (declared is not None and declared != algorithm):
            raise auth_error(AuthFailure.ALGORITHM)
        return key.key

    def _lookup(self, kid: str | None) -> tuple[jwt.PyJWK, str | None] | None:
        if kid is not None:
            return self._keys.get(kid)
        if len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return None
