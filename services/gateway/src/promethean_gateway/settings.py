"""The gateway's settings: how client tokens are checked (JWT keys, JWKS, the
dev token) and the per-connection limits (docs/configuration.md, "Gateway",
is generated from `VARIABLES`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
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
    ServiceSettings,
    VariableTable,
    kinds,
    settings_repr,
)
from promethean.settings.kinds import AtLeast
from promethean.settings.secret import MASK
from promethean.settings.units import DAY_MS, GIB, HOUR_MS, MIB
from promethean.settings.variables import Derived, Nested, Values

SERVICE: Final = "gateway"

DEFAULT_BUS_URL: Final = "ws://127.0.0.1:7070/ws"
DEFAULT_MAX_CONNECTIONS: Final = 10_000
DEFAULT_PUBLISH_RATE: Final = 1_000.0
DEFAULT_PUBLISH_BURST: Final = 2_000
DEFAULT_MAX_INFLIGHT_PUBLISHES: Final = 1_000
DEFAULT_MAX_PENDING_PUBLISHES: Final = 20_000
DEFAULT_MAX_SUBSCRIPTIONS: Final = 64
DEFAULT_MAX_INFLIGHT: Final = 256
DEFAULT_BROKER_LINKS: Final = 8
MAX_BROKER_LINKS: Final = 16
DEFAULT_SEND_BUFFER_BYTES: Final = 4 * MIB
DEFAULT_AUTH_TIMEOUT_MS: Final = 10_000
DEFAULT_PUBLISH_TIMEOUT_MS: Final = 10_000

ALGORITHM_FAMILIES: Final = ("HS", "RS", "PS", "ES")
PUBLIC_KEY_VARS: Final = ("JWT_PUBLIC_KEY", "PROMETHEAN_JWT_PUBLIC_KEY")
MSG_DEV_TOKEN: Final = "allowed only with PROMETHEAN_DEV=1 (a static token is for development)"
MSG_NO_AUTH: Final = "set JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL (or WS_TOKEN in dev mode)"


JWKS_VARIABLES: Final = VariableTable(
    kinds.seconds_from_ms(
        "PROMETHEAN_JWKS_TTL_MS",
        "ttl_s",
        DEFAULT_TTL_S,
        (1000, DAY_MS),
        "Age after which the JWKS is fetched again.",
    ),
    kinds.integer(
        "PROMETHEAN_JWKS_MAX_KEYS",
        "max_keys",
        DEFAULT_MAX_KEYS,
        (1, 1000),
        "Keys kept from the JWKS document (the document is read up to 256 KiB).",
    ),
    kinds.seconds_from_ms(
        "PROMETHEAN_JWKS_MIN_REFRESH_MS",
        "min_refresh_s",
        DEFAULT_MIN_REFRESH_S,
        (0, HOUR_MS),
        "Least time between two fetches, so tokens with made-up `kid`s cannot flood the"
        " identity provider.",
    ),
)


@dataclass(frozen=True, slots=True, repr=False)
class JwksSettings:
    VARIABLES: ClassVar[VariableTable] = JWKS_VARIABLES

    ttl_s: float = DEFAULT_TTL_S
    max_keys: int = DEFAULT_MAX_KEYS
    min_refresh_s: float = DEFAULT_MIN_REFRESH_S

    __repr__ = settings_repr


def _metrics_port(env: EnvReader, values: Values) -> int | None:
    """``PROMETHEAN_METRICS_PORT``: serve ``/metrics`` there instead of on
    the public ``WS_PORT``; unset or ``0`` keeps it on ``WS_PORT``."""
    name = "PROMETHEAN_METRICS_PORT"
    ws_port: int = values["port"]
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


def _jwt_config(env: EnvReader, values: Values) -> JwtConfig:
    """``JWT_*``: the keys, the allow-list of algorithms and the claims checked."""
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


def _by_family(algorithm: str) -> tuple[int, str]:
    """HMAC, RSA, RSA-PSS, then EC algorithms, as the docs list them."""
    return (ALGORITHM_FAMILIES.index(algorithm[:2]), algorithm)


def _ws_token(env: EnvReader, values: Values) -> Secret | None:
    """The dev-only static token."""
    ws_token = env.secret("WS_TOKEN")
    if ws_token is not None and not values["common"].dev:
        raise SettingsError("WS_TOKEN", MASK, MSG_DEV_TOKEN)
    return ws_token


def _token_checks(env: EnvReader, values: Values) -> JwtConfig:
    """The JWT settings; a gateway that could check no token at all stops here."""
    jwt_config = _jwt_config(env, values)
    if not jwt_config.configured and values["ws_token"] is None:
        raise SettingsError("JWT_SECRET", "(unset)", MSG_NO_AUTH)
    return jwt_config


VARIABLES: Final = VariableTable(
    Derived("ws_token", _ws_token, secret=True),
    Derived("jwt", _token_checks),
    kinds.port(
        "WS_PORT",
        "port",
        DEFAULT_WS_PORT,
        "Port of the client WebSocket (`/`, `/ws`), `POST /publish/{topic}`, `/metrics`"
        " (unless `PROMETHEAN_METRICS_PORT` is set) and `/healthz/*`.",
    ),
    kinds.custom(
        "PROMETHEAN_METRICS_PORT",
        "metrics_port",
        _metrics_port,
        "Serve `/metrics` on this port only, never on the public `WS_PORT` (the chart sets"
        " `gateway.metricsPort`, 9102).",
        default=kinds.UNSET,
        allowed="`0` (unset) or 1 to 65535, not `WS_PORT`",
    ),
    kinds.bus_url(
        "bus_url",
        "The broker. The gateway sends `PROMETHEAN_BROKER_TOKEN` as its `AUTH` when set.",
        default=DEFAULT_BUS_URL,
    ),
    kinds.secret("JWT_SECRET", None, "HMAC key of `HS256` tokens.", allowed="secret"),
    kinds.documented(
        "JWT_PUBLIC_KEY",
        "Verifies `RS256` (RSA key) or `ES256` (EC key) tokens that carry no `kid` (or when"
        " no JWKS is set). `PROMETHEAN_JWT_PUBLIC_KEY` is read when it is unset.",
        allowed="PEM text or the path of a PEM file; RSA or EC public key",
    ),
    kinds.documented(
        "JWT_JWKS_URL",
        "JWKS endpoint; tokens with a `kid` are checked against its keys (cached, refreshed"
        " on an unknown `kid`).",
        allowed="`http(s)://...`",
    ),
    kinds.documented("JWT_AUD", "Required `aud` claim when set.", allowed="string"),
    kinds.documented("JWT_ISS", "Required `iss` claim when set.", allowed="string"),
    kinds.documented(
        "PROMETHEAN_JWT_ALGORITHMS",
        "The allow-list. `none` is never accepted; each listed algorithm needs a key of its"
        " family.",
        default="derived: `HS256` with a secret, `RS256`/`ES256` by the PEM key's type,"
        " `RS256,ES256` with a JWKS",
        allowed=f"comma list of `{' '.join(sorted(SUPPORTED_ALGORITHMS, key=_by_family))}`",
    ),
    kinds.documented(
        "PROMETHEAN_JWT_LEEWAY_S",
        "Clock leeway on `exp` and `nbf`. `exp` is required.",
        default=kinds.code(DEFAULT_LEEWAY_S),
        allowed="0 to 300",
    ),
    Nested("jwks", JwksSettings, JWKS_VARIABLES),
    kinds.secret(
        "WS_TOKEN",
        None,
        "**Dev only**: a static token granting every topic. Refused at start (exit 2) unless"
        " `PROMETHEAN_DEV=1`. `promethean dev` sets it to `dev-token`.",
        allowed="secret",
    ),
    kinds.integer(
        "PROMETHEAN_GATEWAY_MAX_CONNECTIONS",
        "max_connections",
        DEFAULT_MAX_CONNECTIONS,
        (1, 1_000_000),
        "Client connections at once; the next gets `ERR too_many_connections` and close code 1013.",
    ),
    kinds.number(
        "PROMETHEAN_GATEWAY_PUBLISH_RATE",
        "publish_rate",
        DEFAULT_PUBLISH_RATE,
        (0.001, 1_000_000.0),
        "Publishes per second per connection (token bucket); beyond it `ERR rate_limited`"
        " with `retry_after_ms`.",
    ),
    kinds.integer(
        "PROMETHEAN_GATEWAY_PUBLISH_BURST",
        "publish_burst",
        DEFAULT_PUBLISH_BURST,
        (1, 1_000_000),
        "Bucket size: publishes a connection may send at once after a quiet spell.",
    ),
    kinds.integer(
        "PROMETHEAN_GATEWAY_MAX_INFLIGHT_PUBLISHES",
        "max_inflight_publishes",
        DEFAULT_MAX_INFLIGHT_PUBLISHES,
        (1, 1_000_000),
        "Publishes of one connection waiting for the broker; beyond it `ERR overloaded`.",
    ),
    kinds.integer(
        "PROMETHEAN_GATEWAY_MAX_PENDING_PUBLISHES",
        "max_pending_publishes",
        DEFAULT_MAX_PENDING_PUBLISHES,
        (1, 10_000_000),
        "Publishes of the whole gateway waiting for the broker; beyond it `ERR overloaded` /"
        " HTTP 429. At 90 % the gateway reports not ready.",
    ),
    kinds.integer(
        "PROMETHEAN_GATEWAY_MAX_SUBSCRIPTIONS",
        "max_subscriptions",
        DEFAULT_MAX_SUBSCRIPTIONS,
        (1, 10_000),
        "Subscriptions per connection.",
    ),
    kinds.integer(
        "PROMETHEAN_GATEWAY_MAX_INFLIGHT",
        "max_inflight",
        DEFAULT_MAX_INFLIGHT,
        (1, 100_000),
        "Cap on a subscription's `max_inflight` (unacked EVENTs per subscription); it also"
        " bounds the id → delivery map.",
    ),
    kinds.integer(
        "PROMETHEAN_GATEWAY_BROKER_LINKS",
        "broker_links",
        DEFAULT_BROKER_LINKS,
        (1, MAX_BROKER_LINKS),
        "Broker connections shared by the subscribing clients (the publishing link aside);"
        " clients of one topic, group and options share one broker subscription.",
    ),
    kinds.integer(
        "PROMETHEAN_MAX_FRAME_BYTES",
        "max_frame_bytes",
        MAX_FRAME_BYTES,
        (1024, 16 * MIB),
        "Largest client frame; up to 4 times this is answered `ERR frame_too_large`, larger"
        " frames close the socket (1009). Also the HTTP body limit.",
    ),
    kinds.integer(
        "PROMETHEAN_GATEWAY_SEND_BUFFER_BYTES",
        "send_buffer_bytes",
        DEFAULT_SEND_BUFFER_BYTES,
        (1024, GIB),
        "Bytes queued for one client; a client whose buffer overflows is disconnected with"
        " close code 4008 (`slow_consumer`).",
        at_least=AtLeast("max_frame_bytes", "PROMETHEAN_MAX_FRAME_BYTES"),
    ),
    kinds.duration_ms(
        "PROMETHEAN_GATEWAY_AUTH_TIMEOUT_MS",
        "auth_timeout_ms",
        DEFAULT_AUTH_TIMEOUT_MS,
        (100, 600_000),
        "Time a new connection has to send `AUTH`.",
    ),
    kinds.duration_ms(
        "PROMETHEAN_GATEWAY_PUBLISH_TIMEOUT_MS",
        "publish_timeout_ms",
        DEFAULT_PUBLISH_TIMEOUT_MS,
        (100, HOUR_MS),
        "How long a relayed publish may wait for the broker's `PUBLISHED` (across broker"
        " reconnects).",
    ),
)


@dataclass(frozen=True, slots=True, repr=False)
class GatewaySettings(ServiceSettings, service=SERVICE, variables=VARIABLES):
    common: CommonSettings = field(default_factory=partial(CommonSettings, service=SERVICE))
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
    broker_links: int = DEFAULT_BROKER_LINKS
    send_buffer_bytes: int = DEFAULT_SEND_BUFFER_BYTES
    max_frame_bytes: int = MAX_FRAME_BYTES
    auth_timeout_ms: int = DEFAULT_AUTH_TIMEOUT_MS
    publish_timeout_ms: int = DEFAULT_PUBLISH_TIMEOUT_MS
