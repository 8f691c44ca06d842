"""The worker's settings: read once from the environment at start-up.

Handlers are named in ``PROMETHEAN_WORKER_HANDLERS``, comma-separated; each
entry is a module path ``package.module:attribute`` or the name of an entry
point of the ``promethean.handlers`` group, optionally followed by
``@topic|topic`` to choose its topics. Every variable, its default and its
range is listed in docs/configuration.md; docs/workers.md explains handlers.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Final
from urllib.parse import urlsplit, urlunsplit

from promethean.errors import SettingsError
from promethean.names import is_valid_name
from promethean.settings import (
    DEFAULT_BUS_PORT,
    CommonSettings,
    EnvReader,
    read_store_url,
    settings_repr,
    shown,
)
from promethean.store.factory import DEFAULT_SQLITE_URL

SERVICE: Final = "worker"

DEFAULT_WORKER_PORT: Final = 8092
DEFAULT_GROUP: Final = "promethean-worker"
DEFAULT_HANDLERS: Final = "heartbeat-projector"
DEFAULT_MAX_INFLIGHT: Final = 64
DEFAULT_LAG_POLL_MS: Final = 5_000
HOUR_MS: Final = 3_600_000

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
    port = EnvReader(environ).port("BUS_PORT", DEFAULT_BUS_PORT)
    return f"ws://127.0.0.1:{port}/ws"


def broker_http_url(bus_url: str) -> str:
    """The broker's HTTP base (admin API) for its WebSocket URL."""
    parts = urlsplit(bus_url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, "", "", ""))


def default_instance_id() -> str:
    """The hostname: the pod name in a StatefulSet, stable across restarts."""
    return socket.gethostname()


def _common_default() -> CommonSettings:
    return CommonSettings(service=SERVICE)


@dataclass(frozen=True, slots=True, repr=False)
class WorkerSettings:
    SERVICE: ClassVar[str] = SERVICE

    common: CommonSettings = field(default_factory=_common_default)
    port: int = DEFAULT_WORKER_PORT
    bus_url: str = f"ws://127.0.0.1:{DEFAULT_BUS_PORT}/ws"
    group: str = DEFAULT_GROUP
    handlers: tuple[HandlerEntry, ...] = (HandlerEntry(DEFAULT_HANDLERS),)
    default_topics: tuple[str, ...] = ()
    instance_id: str = field(default_factory=default_instance_id)
    store_url: str = DEFAULT_SQLITE_URL
    max_inflight: int = DEFAULT_MAX_INFLIGHT
    lag_poll_ms: int = DEFAULT_LAG_POLL_MS

    __repr__ = settings_repr

    @property
    def broker_http_url(self) -> str:
        return broker_http_url(self.bus_url)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> WorkerSettings:
        env = EnvReader(environ)
        return cls(
            common=CommonSettings.from_env(environ, service=SERVICE),
            port=env.port("PROMETHEAN_WORKER_PORT", DEFAULT_WORKER_PORT),
            bus_url=env.url("BUS_URL", default_bus_url(environ), schemes=("ws", "wss")),
            group=_name(env, "PROMETHEAN_WORKER_GROUP", DEFAULT_GROUP),
            handlers=parse_handlers(env.raw(HANDLERS_VAR) or DEFAULT_HANDLERS),
            default_topics=_topics(env),
            instance_id=_instance_id(env),
            store_url=read_store_url(environ),
            max_inflight=env.integer(
                "PROMETHEAN_WORKER_MAX_INFLIGHT",
                DEFAULT_MAX_INFLIGHT,
                min_value=1,
                max_value=10_000,
            ),
            lag_poll_ms=env.duration_ms(
                "PROMETHEAN_WORKER_LAG_POLL_MS", DEFAULT_LAG_POLL_MS, max_ms=HOUR_MS
            ),
        )


def _name(env: EnvReader, variable: str, default: str) -> str:
    value = env.raw(variable) or default
    if not is_valid_name(value):
        raise SettingsError(variable, shown(value), "a valid group name (A-Z a-z 0-9 _ . -)")
    return value


def _topics(env: EnvReader) -> tuple[str, ...]:
    topics = env.comma_list(TOPICS_VAR)
    for topic in topics:
        if not is_valid_name(topic):
            raise SettingsError(TOPICS_VAR, shown(topic), "comma-separated topic names")
    return topics


def _instance_id(env: EnvReader) -> str:
    value = env.raw("PROMETHEAN_INSTANCE_ID") or default_instance_id()
    if not _INSTANCE_ID_RE.fullmatch(value):
        raise SettingsError("PROMETHEAN_INSTANCE_ID", shown(value), ALLOWED_INSTANCE_ID)
    return value
