"""JWT verification with an explicit algorithm allow-list (PyJWT).

The key is chosen from the token's header algorithm *family*, never from
the key's bytes: ``HS*`` tokens are checked only against ``JWT_SECRET``;
``RS*``/``PS*``/``ES*`` tokens only against a parsed public key (a PEM key of
the matching type, or a JWKS key). So an HS256 token can never be verified
with an RSA public key used as an HMAC secret, and ``alg: none`` is never in
the allow-list. ``aud`` and ``iss`` are enforced when configured; ``exp`` is
required; ``exp``/``nbf`` get a small leeway.

No I/O here: JWKS keys come from a `KeySource` (see `promethean.auth.jwks`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from promethean.auth.errors import AuthError, AuthFailure
from promethean.auth.policy import Policy, PolicyError, compile_policy, split_scopes
from promethean.settings.secret import Secret

HMAC_ALGORITHMS: Final = frozenset({"HS256", "HS384", "HS512"})
RSA_ALGORITHMS: Final = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_ALGORITHMS: Final = frozenset({"ES256", "ES384", "ES512"})
SUPPORTED_ALGORITHMS: Final = HMAC_ALGORITHMS | RSA_ALGORITHMS | EC_ALGORITHMS
MAX_TOKEN_CHARS: Final = 16 * 1024
DEFAULT_LEEWAY_S: Final = 5

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


class KeySource(Protocol):
    """Public keys by ``kid`` (a JWKS endpoint)."""

    async def key(self, kid: str | None, algorithm: str) -> Any:
        """The key for ``kid`` usable with ``algorithm``, or `AuthError`."""
        ...


def load_public_key(pem: str) -> PublicKey:
    """An RSA or EC public key from PEM text; ValueError otherwise."""
    key = load_pem_public_key(pem.encode())
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise ValueError("only RSA and EC public keys are supported")
    return key


def algorithms_for_key(key: PublicKey) -> frozenset[str]:
    return RSA_ALGORITHMS if isinstance(key, rsa.RSAPublicKey) else EC_ALGORITHMS


@dataclass(frozen=True, slots=True)
class JwtConfig:
    secret: Secret | None = None
    """``JWT_SECRET``: the HMAC key for ``HS*`` tokens."""
    public_key: PublicKey | None = field(default=None, repr=False)
    """``JWT_PUBLIC_KEY``: a parsed RSA/EC public key for ``RS*``/``ES*`` tokens."""
    jwks_url: str | None = None
    audience: str | None = None
    issuer: str | None = None
    algorithms: frozenset[str] = frozenset()
    leeway_s: int = DEFAULT_LEEWAY_S

    def __post_init__(self) -> None:
        if "none" in {a.lower() for a in self.algorithms}:
            raise ValueError("the `none` algorithm can never be allowed")
        unknown = self.algorithms - SUPPORTED_ALGORITHMS
        if unknown:
            raise ValueError(f"unsupported algorithms: {', '.join(sorted(unknown))}")

    @property
    def configured(self) -> bool:
        return self.secret is not None or self.public_key is not None or self.jwks_url is not None


def default_algorithms(
    secret: Secret | None, public_key: PublicKey | None, jwks_url: str | None
) -> frozenset[str]:
    """What the configured keys can verify: HS256 with a secret, RS256 or
    ES256 with a PEM key (by its type), RS256 and ES256 with a JWKS."""
    allowed: set[str] = set()
    if secret is not None:
        allowed.add("HS256")
    if public_key is not None:
        allowed.add("RS256" if isinstance(public_key, rsa.RSAPublicKey) else "ES256")
    if jwks_url is not None:
        allowed |= {"RS256", "ES256"}
    return frozenset(allowed)


@dataclass(frozen=True, slots=True)
class Identity:
    """A verified token: who, what they may do, until when."""

    subject: str | None
    policy: Policy
    expires_at: float | None
    """Epoch seconds of ``exp`` (plus leeway); None for the dev token."""
    scopes: tuple[str, ...] = ()
    """The ``scopes`` claim as given (the broker's console reads ``admin:*``/``read:*``)."""

    def expired(self, now: float | None = None) -> bool:
        return self.expires_at is not None and (now or time.time()) >= self.expires_at


_FAILURES: Final[tuple[tuple[type[Exception], AuthFailure], ...]] = (
    (jwt.ExpiredSignatureError, AuthFailure.EXPIRED),
    (jwt.ImmatureSignatureError, AuthFailure.NOT_YET_VALID),
    (jwt.InvalidAudienceError, AuthFailure.AUDIENCE),
    (jwt.InvalidIssuerError, AuthFailure.ISSUER),
    (jwt.InvalidSignatureError, AuthFailure.SIGNATURE),
    (jwt.InvalidAlgorithmError, AuthFailure.ALGORITHM),
    (jwt.InvalidKeyError, AuthFailure.ALGORITHM),
    (jwt.MissingRequiredClaimError, AuthFailure.CLAIMS),
    (jwt.DecodeError, AuthFailure.MALFORMED),
)

_MESSAGES: Final[Mapping[AuthFailure, str]] = {
    AuthFailure.MISSING: "no token",
    AuthFailure.MALFORMED: "the token is not a well-formed JWT",
    AuthFailure.ALGORITHM: "the token's algorithm is not allowed",
    AuthFailure.SIGNATURE: "the token's signature is invalid",
    AuthFailure.EXPIRED: "the token has expired",
    AuthFailure.NOT_YET_VALID: "the token is not valid yet",
    AuthFailure.AUDIENCE: "the token is for another audience",
    AuthFailure.ISSUER: "the token is from another issuer",
    AuthFailure.UNKNOWN_KID: "the token's signing key is unknown",
    AuthFailure.CLAIMS: "the token's claims are invalid",
    AuthFailure.KEYS_UNAVAILABLE: "signing keys are unavailable",
}


def auth_error(reason: AuthFailure, detail: str | None = None) -> AuthError:
    msg = _MESSAGES[reason]
    return AuthError(reason, f"{msg}: {detail}" if detail else msg)


class JwtVerifier:
    def __init__(self, config: JwtConfig, keys: KeySource | None = None) -> None:
        self.config = config
        self._keys = keys

    async def _key(self, algorithm: str, kid: object) -> Any:
        cfg = self.config
        if algorithm in HMAC_ALGORITHMS:
            if cfg.secret is None:
                raise auth_error(AuthFailure.ALGORITHM)
            return cfg.secret.reveal().encode()
        if kid is not None and not isinstance(kid, str):
            raise auth_error(AuthFailure.MALFORMED, "`kid` must be a string")
        # A token naming a key id is checked against the JWKS; one without,
        # against the PEM key when there is one.
        if self._keys is not None and (kid is not None or cfg.public_key is None):
            return await self._keys.key(kid, algorithm)
        if cfg.public_key is None or algorithm not in algorithms_for_key(cfg.public_key):
            raise auth_error(AuthFailure.ALGORITHM)
        return cfg.public_key

    async def verify(self, token: str) -> Identity:
        """The token's `Identity`, or `AuthError` saying why not."""
        if not token:
            raise auth_error(AuthFailure.MISSING)
        if len(token) > MAX_TOKEN_CHARS:
            raise auth_error(AuthFailure.MALFORMED, f"longer than {MAX_TOKEN_CHARS} characters")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise auth_error(AuthFailure.MALFORMED) from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self.config.algorithms:
            raise auth_error(AuthFailure.ALGORITHM)
        key = await self._key(algorithm, header.get("kid"))
        claims = self._decode(token, key, algorithm)
        return identity_from_claims(claims, self.config.leeway_s)

    def _decode(self, token: str, key: Any, algorithm: str) -> dict[str, Any]:
        cfg = self.config
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=cfg.audience,
                issuer=cfg.issuer,
                leeway=cfg.leeway_s,
                options={"require": ["exp"], "verify_aud": cfg.audience is not None},
            )
        except jwt.InvalidTokenError as exc:
            for kind, reason in _FAILURES:
                if isinstance(exc, kind):
                    raise auth_error(reason) from None
            raise auth_error(AuthFailure.CLAIMS) from None
        return claims


def identity_from_claims(claims: Mapping[str, Any], leeway_s: int) -> Identity:
    subject = claims.get("sub")
    if subject is not None and not isinstance(subject, str):
        raise auth_error(AuthFailure.CLAIMS, "`sub` must be a string")
    scopes = claims.get("scopes", claims.get("scope"))
    try:
        policy = compile_policy(scopes, claims.get("policy"))
        listed = tuple(split_scopes(scopes))
    except PolicyError as exc:
        raise auth_error(AuthFailure.CLAIMS, exc.msg) from None
    exp = claims.get("exp")
    expires_at = float(exp) + leeway_s if isinstance(exp, int | float) else None
    return Identity(subject, policy, expires_at, listed)
