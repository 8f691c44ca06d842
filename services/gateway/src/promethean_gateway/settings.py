"""The gateway's settings: read once from the environment at start-up.

Every variable, its default and its range is listed in docs/configuration.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Final

from promethean.auth.jwks import DEFAULT_MAX_KEYS, DEFAULT_MIN_REFRESH_S, DEFAULT_TTL_S
from promethean.auth.jwt import (
    DEFAULT_LEEWAY_S,
    HMAC_ALGORITHMS,
    SUPPORTED_ALGORITHMS,
    JwtConfig,
    PublicKey,
    algorithms_for_key,
    default_algorithms,
    load_public_key,
)
from promethean.errors import SettingsError
from promethean.names import MAX_FRAME_BYTES
from promethean.settings import (
    DEFAULT_WS_PORT,
    CommonSettings,
    EnvReader,
    Secret,
    settings_repr,
)

SERVICE: Final = "gateway"

DEFAULT_BUS_URL: Final = "ws://127.0.0.1:7070/ws"
DEFAULT_MAX_CONNECTIONS: Final = 10_000
DEFAULT_PUBLISH_RATE: Final = 1_000.0
DEFAULT_PUBLISH_BURST: Final = 2_000
DEFAULT_MAX_INFLIGHT_PUBLISHES: Final = 1_000
DEFAULT_MAX_PENDING_PUBLISHES: Final = 20_000
DEFAULT_MAX_SUBSCRIPTIONS: Final = 64
DEFAULT_MAX_INFLIGHT: Final = 256
DEFAULT_SEND_BUFFER_BYTES: Final = 4 * 1024 * 1024
DEFAULT_AUTH_TIMEOUT_MS: Final = 10_000
DEFAULT_PUBLISH_TIMEOUT_MS: Final = 10_000
HOUR_MS: Final = 3_600_000
GIB: Final = 1024 * 1024 * 1024

PUBLIC_KEY_VARS: Final = ("JWT_PUBLIC_KEY", "PROMETHEAN_JWT_PUBLIC_KEY")
MSG_DEV_TOKEN: Final = "allowed only with PROMETHEAN_DEV=1 (a static token is for development)"
MSG_NO_AUTH: Final = "set JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL (or WS_TOKEN in dev mode)"


def _common_default() -> CommonSettings:
    return CommonSettings(service=SERVICE)


@dataclass(frozen=True, slots=True, repr=False)
class JwksSettings:
    ttl_s: float = DEFAULT_TTL_S
    max_keys: int = DEFAULT_MAX_KEYS
    min_refresh_s: float = DEFAULT_MIN_REFRESH_S

    __repr__ = settings_repr


@dataclass(frozen=True, slots=True, repr=False)
class GatewaySettings:
    SERVICE: ClassVar[str] = SERVICE

    common: CommonSettings = field(default_factory=_common_default)
    port: int = DEFAULT_WS_PORT
    metrics_port: int | None = None
    bus_url: str = DEFAULT_BUS_URL
    jwt: JwtConfig = field(default_factory=JwtConfig)
    jwks: JwksSettings = field(default_factory=JwksSettings)
    ws_token: Secret | None = None
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    publish_rate: float = DEFAULT_PUBLISH_RATE
    publish_burst: int = DEFAULT_PUBLISH_BURST
    max_inflight_publishes: int = DEFAULT_MAX_INFLIGHT_PUBLISHES
    max_pending_publishes: int = DEFAULT_MAX_PENDING_PUBLISHES
    max_subscriptions: int = DEFAULT_MAX_SUBSCRIPTIONS
    max_inflight: int = DEFAULT_MAX_INFLIGHT
    send_buffer_bytes: int = DEFAULT_SEND_BUFFER_BYTES
    max_frame_bytes: int = MAX_FRAME_BYTES
    auth_timeout_ms: int = DEFAULT_AUTH_TIMEOUT_MS
    publish_timeout_ms: int = DEFAULT_PUBLISH_TIMEOUT_MS

    __repr__ = settings_repr

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> GatewaySettings:
        env = EnvReader(environ)
        common = CommonSettings.from_env(environ, service=SERVICE)
        ws_token = env.secret("WS_TOKEN")
        if ws_token is not None and not common.dev:
            raise SettingsError("WS_TOKEN", "***", MSG_DEV_TOKEN)
        jwt_config = _jwt_config(env)
        if not jwt_config.configured and ws_token is None:
            raise SettingsError("JWT_SECRET", "(unset)", MSG_NO_AUTH)
        max_frame_bytes = env.integer(
            "PROMETHEAN_MAX_FRAME_BYTES", MAX_FRAME_BYTES, min_value=1024, max_value=16 * 1024**2
        )
        send_buffer = env.integer(
            "PROMETHEAN_GATEWAY_SEND_BUFFER_BYTES",
            DEFAULT_SEND_BUFFER_BYTES,
            min_value=1024,
            max_value=GIB,
        )
        if send_buffer < max_frame_bytes:
            raise SettingsError(
                "PROMETHEAN_GATEWAY_SEND_BUFFER_BYTES",
                str(send_buffer),
                f"at least PROMETHEAN_MAX_FRAME_BYTES ({max_frame_bytes})",
            )
        ws_port = env.port("WS_PORT", DEFAULT_WS_PORT)
        return cls(
            common=common,
            port=ws_port,
            metrics_port=_metrics_port(env, ws_port),
            bus_url=env.url("BUS_URL", DEFAULT_BUS_URL, schemes=("ws", "wss")),
            jwt=jwt_config,
            jwks=JwksSettings(
                ttl_s=env.duration_ms(
                    "PROMETHEAN_JWKS_TTL_MS",
                    int(DEFAULT_TTL_S * 1000),
                    min_ms=1000,
                    max_ms=86_400_000,
                )
                / 1000,
                max_keys=env.integer(
                    "PROMETHEAN_JWKS_MAX_KEYS", DEFAULT_MAX_KEYS, min_value=1, max_value=1000
                ),
                min_refresh_s=env.duration_ms(
                    "PROMETHEAN_JWKS_MIN_REFRESH_MS",
                    int(DEFAULT_MIN_REFRESH_S * 1000),
                    min_ms=0,
                    max_ms=HOUR_MS,
                )
                / 1000,
            ),
            ws_token=ws_token,
            max_connections=env.integer(
                "PROMETHEAN_GATEWAY_MAX_CONNECTIONS",
                DEFAULT_MAX_CONNECTIONS,
                min_value=1,
                max_value=1_000_000,
            ),
            publish_rate=env.number(
                "PROMETHEAN_GATEWAY_PUBLISH_RATE",
                DEFAULT_PUBLISH_RATE,
                min_value=0.001,
                max_value=1_000_000.0,
            ),
            publish_burst=env.integer(
                "PROMETHEAN_GATEWAY_PUBLISH_BURST",
                DEFAULT_PUBLISH_BURST,
                min_value=1,
                max_value=1_000_000,
            ),
            max_inflight_publishes=env.integer(
                "PROMETHEAN_GATEWAY_MAX_INFLIGHT_PUBLISHES",
                DEFAULT_MAX_INFLIGHT_PUBLISHES,
                min_value=1,
                max_value=1_000_000,
            ),
            max_pending_publishes=env.integer(
                "PROMETHEAN_GATEWAY_MAX_PENDING_PUBLISHES",
                DEFAULT_MAX_PENDING_PUBLISHES,
                min_value=1,
                max_value=10_000_000,
            ),
            max_subscriptions=env.integer(
                "PROMETHEAN_GATEWAY_MAX_SUBSCRIPTIONS",
                DEFAULT_MAX_SUBSCRIPTIONS,
                min_value=1,
                max_value=10_000,
            ),
            max_inflight=env.integer(
                "PROMETHEAN_GATEWAY_MAX_INFLIGHT",
                DEFAULT_MAX_INFLIGHT,
                min_value=1,
                max_value=100_000,
            ),
            send_buffer_bytes=send_buffer,
            max_frame_bytes=max_frame_bytes,
            auth_timeout_ms=env.duration_ms(
                "PROMETHEAN_GATEWAY_AUTH_TIMEOUT_MS",
                DEFAULT_AUTH_TIMEOUT_MS,
                min_ms=100,
                max_ms=600_000,
            ),
            publish_timeout_ms=env.duration_ms(
                "PROMETHEAN_GATEWAY_PUBLISH_TIMEOUT_MS",
                DEFAULT_PUBLISH_TIMEOUT_MS,
                min_ms=100,
                max_ms=HOUR_MS,
            ),
        )


def _metrics_port(env: EnvReader, ws_port: int) -> int | None:
    """``PROMETHEAN_METRICS_PORT``: serve ``/metrics`` there instead of on
    the public ``WS_PORT``; unset or ``0`` keeps it on ``WS_PORT``."""
    name = "PROMETHEAN_METRICS_PORT"
    if env.raw(name) in (None, "0"):
        return None
    port = env.port(name, 0)
    if port == ws_port:
        raise SettingsError(name, str(port), f"a port other than WS_PORT ({ws_port})")
    return port


def _public_key(env: EnvReader) -> PublicKey | None:
    """``JWT_PUBLIC_KEY`` (or ``PROMETHEAN_JWT_PUBLIC_KEY``): PEM text or a
    path to a PEM file."""
    for name in PUBLIC_KEY_VARS:
        value = env.raw(name)
        if value is None:
            continue
        text = value
        if "-----BEGIN" not in value:
            try:
                text = Path(value).read_text()
            except OSError:
                raise SettingsError(name, "(value)", "PEM text or the path of a PEM file") from None
        try:
            return load_public_key(text)
        except ValueError:
            raise SettingsError(name, "(PEM)", "an RSA or EC public key in PEM form") from None
    return None


def _jwt_config(env: EnvReader) -> JwtConfig:
    secret = env.secret("JWT_SECRET")
    public_key = _public_key(env)
    jwks_url = env.raw("JWT_JWKS_URL")
    if jwks_url is not None:
        env.url("JWT_JWKS_URL", "", schemes=("http", "https"))
    name = "PROMETHEAN_JWT_ALGORITHMS"
    listed = env.comma_list(name, allowed=SUPPORTED_ALGORITHMS)
    algorithms = frozenset(listed) or default_algorithms(secret, public_key, jwks_url)
    for alg in algorithms:
        if alg in HMAC_ALGORITHMS and secret is None:
            raise SettingsError(name, ",".join(listed), f"{alg} needs JWT_SECRET")
        no_key = public_key is None or alg not in algorithms_for_key(public_key)
        if alg not in HMAC_ALGORITHMS and jwks_url is None and no_key:
            raise SettingsError(
                name, ",".join(listed), f"{alg} needs JWT_JWKS_URL or a matching JWT_PUBLIC_KEY"
            )
    return JwtConfig(
        secret=secret,
        public_key=public_key,
        jwks_url=jwks_url,
        audience=env.raw("JWT_AUD"),
        issuer=env.raw("JWT_ISS"),
        algorithms=algorithms,
        leeway_s=env.integer(
            "PROMETHEAN_JWT_LEEWAY_S", DEFAULT_LEEWAY_S, min_value=0, max_value=300
        ),
    )
