"""The worker's settings: read once from the environment at start-up.

Handlers are named in ``PROMETHEAN_WORKER_HANDLERS``, comma-separated; each
entry is a module path ``package.module:attribute`` or the name of an entry
point of the ``promethean.handlers`` group, optionally followed by
``@topic|topic`` to choose its topics. Every variable, its default and its
range is listed in `VARIABLES` (docs/configuration.md's "Partitioned worker"
table is generated from it); docs/workers.md explains handlers.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Final
from urllib.parse import urlsplit, urlunsplit

from promethean.errors import SettingsError
from promethean.names import is_valid_name
from promethean.settings import (
    DEFAULT_BUS_PORT,
    CommonSettings,
    EnvReader,
    ServiceSettings,
    VariableTable,
    kinds,
    shown,
)
from promethean.settings.store import STORE_VARIABLES
from promethean.settings.units import HOUR_MS
from promethean.settings.variables import Values
from promethean.store.factory import DEFAULT_SQLITE_URL

SERVICE: Final = "worker"

DEFAULT_WORKER_PORT: Final = 8092
DEFAULT_GROUP: Final = "promethean-worker"
DEFAULT_HANDLERS: Final = "heartbeat-projector"
DEFAULT_MAX_INFLIGHT: Final = 64
DEFAULT_LAG_POLL_MS: Final = 5_000

HANDLERS_VAR: Final = "PROMETHEAN_WORKER_HANDLERS"
TOPICS_VAR: Final = "PROMETHEAN_WORKER_TOPICS"

_MODULE_TARGET_RE: Final = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*"
)
_ENTRY_POINT_RE: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_INSTANCE_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
ALLOWED_HANDLERS: Final = (
    "comma-separated package.module:attribute or entry-point names, "
    "each optionally followed by @topic|topic"
)
ALLOWED_INSTANCE_ID: Final = "1 to 128 characters from A-Z a-z 0-9 . _ - (not starting with . _ -)"


@dataclass(frozen=True, slots=True)
class HandlerEntry:
    """One entry of ``PROMETHEAN_WORKER_HANDLERS``."""

    target: str
    """``package.module:attribute`` or an entry-point name."""
    topics: tuple[str, ...] = ()
    """Topics chosen in the entry (``@a|b``); empty: the handler's own."""

    @property
    def is_module_path(self) -> bool:
        return ":" in self.target


def parse_handlers(value: str) -> tuple[HandlerEntry, ...]:
    entries = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        target, sep, topic_text = (part.strip() for part in item.partition("@"))
        topics = tuple(t.strip() for t in topic_text.split("|") if t.strip()) if sep else ()
        valid_target = _MODULE_TARGET_RE.fullmatch(target) or _ENTRY_POINT_RE.fullmatch(target)
        if not valid_target or (sep and not topics) or not all(map(is_valid_name, topics)):
            raise SettingsError(HANDLERS_VAR, shown(item), ALLOWED_HANDLERS)
        entries.append(HandlerEntry(target, topics))
    if not entries:
        raise SettingsError(HANDLERS_VAR, shown(value), ALLOWED_HANDLERS)
    return tuple(entries)


def default_bus_url(environ: Mapping[str, str]) -> str:
    """The broker on this machine at ``BUS_PORT`` (what ``promethean dev`` runs)."""
    return kinds.local_bus_url(EnvReader(environ))


def broker_http_url(bus_url: str) -> str:
    """The broker's HTTP base (admin API) for its WebSocket URL."""
    parts = urlsplit(bus_url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, "", "", ""))


def default_instance_id() -> str:
    """The hostname: the pod name in a StatefulSet, stable across restarts."""
    return socket.gethostname()


def _handlers(env: EnvReader, values: Values) -> tuple[HandlerEntry, ...]:
    return parse_handlers(env.raw(HANDLERS_VAR) or DEFAULT_HANDLERS)


def _group(env: EnvReader, values: Values) -> str:
    variable = "PROMETHEAN_WORKER_GROUP"
    value = env.raw(variable) or DEFAULT_GROUP
    if not is_valid_name(value):
        raise SettingsError(variable, shown(value), "a valid group name (A-Z a-z 0-9 _ . -)")
    return value


def _topics(env: EnvReader, values: Values) -> tuple[str, ...]:
    topics = env.comma_list(TOPICS_VAR)
    for topic in topics:
        if not is_valid_name(topic):
            raise SettingsError(TOPICS_VAR, shown(topic), "comma-separated topic names")
    return topics


def _instance_id(env: EnvReader, values: Values) -> str:
    value = env.raw("PROMETHEAN_INSTANCE_ID") or default_instance_id()
    if not _INSTANCE_ID_RE.fullmatch(value):
        raise SettingsError("PROMETHEAN_INSTANCE_ID", shown(value), ALLOWED_INSTANCE_ID)
    return value


VARIABLES: Final = VariableTable(
    kinds.port(
        "PROMETHEAN_WORKER_PORT",
        "port",
        DEFAULT_WORKER_PORT,
        "Port of `/metrics`, `/healthz/*` and `/assignment`.",
    ),
    kinds.bus_url(
        "bus_url",
        "The broker. Its admin API (for lag) is the same host and port over HTTP.",
    ),
    kinds.custom(
        HANDLERS_VAR,
        "handlers",
        _handlers,
        "The handlers this worker runs. Built in: `heartbeat-projector`, `changelog-projector`.",
        default=kinds.code(DEFAULT_HANDLERS),
        allowed="comma-separated `package.module:attribute` or `promethean.handlers`"
        " entry-point names, each optionally followed by `@topic\\|topic`",
    ),
    kinds.custom(
        TOPICS_VAR,
        "default_topics",
        _topics,
        "Topics of handlers that neither their entry (`@...`) nor their code names.",
        default=kinds.UNSET,
        allowed="comma-separated topic names",
    ),
    kinds.custom(
        "PROMETHEAN_WORKER_GROUP",
        "group",
        _group,
        "The partitioned group every replica joins.",
        default=kinds.code(DEFAULT_GROUP),
        allowed="a group name",
    ),
    kinds.custom(
        "PROMETHEAN_INSTANCE_ID",
        "instance_id",
        _instance_id,
        "Static member identity: a restart under the same id within the session timeout"
        " keeps its partitions. Give each process on one machine its own.",
        default="the hostname (the pod name in a StatefulSet)",
        allowed="1 to 128 characters from `A-Z a-z 0-9 . _ -`, not starting with `. _ -`",
    ),
    *STORE_VARIABLES,
    kinds.integer(
        "PROMETHEAN_WORKER_MAX_INFLIGHT",
        "max_inflight",
        DEFAULT_MAX_INFLIGHT,
        (1, 10_000),
        "Unacked deliveries per topic when the client offers no partitioned subscription"
        " (plain group fallback).",
    ),
    kinds.duration_ms(
        "PROMETHEAN_WORKER_LAG_POLL_MS",
        "lag_poll_ms",
        DEFAULT_LAG_POLL_MS,
        (0, HOUR_MS),
        "How often lag per owned partition is read from the broker's `GET /lag` for"
        " `promethean_worker_lag`; `0` turns it off.",
    ),
)


@dataclass(frozen=True, slots=True, repr=False)
class WorkerSettings(ServiceSettings, service=SERVICE, variables=VARIABLES):
    common: CommonSettings = field(default_factory=partial(CommonSettings, service=SERVICE))
    port: int = DEFAULT_WORKER_PORT
    bus_url: str = f"ws://127.0.0.1:{DEFAULT_BUS_PORT}/ws"
    group: str = DEFAULT_GROUP
    handlers: tuple[HandlerEntry, ...] = (HandlerEntry(DEFAULT_HANDLERS),)
    default_topics: tuple[str, ...] = ()
    instance_id: str = field(default_factory=default_instance_id)
    store_url: str = DEFAULT_SQLITE_URL
    max_inflight: int = DEFAULT_MAX_INFLIGHT
    lag_poll_ms: int = DEFAULT_LAG_POLL_MS

    @property
    def broker_http_url(self) -> str:
        return broker_http_url(self.bus_url)
