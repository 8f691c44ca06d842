"""Typed settings read from the environment, validated once at start-up.

Each service has one frozen settings dataclass with a ``from_env(environ)``
constructor built from :class:`EnvReader` calls and embedding
:class:`CommonSettings`; its ``__main__`` calls :func:`load_settings`, which
turns a bad value into one line on stderr and exit code 2.
"""

from promethean.settings.common import (
    DEFAULT_BUS_PORT,
    DEFAULT_HOST,
    DEFAULT_WS_PORT,
    CommonSettings,
    LogLevel,
)
from promethean.settings.env import EnvReader, check_url, is_host, shown, shown_url
from promethean.settings.loading import (
    EXIT_BAD_SETTING,
    SettingsFactory,
    load_settings,
    settings_error_line,
)
from promethean.settings.redaction import settings_repr
from promethean.settings.secret import Secret
from promethean.settings.store import read_store_url

__all__ = [
    "DEFAULT_BUS_PORT",
    "DEFAULT_HOST",
    "DEFAULT_WS_PORT",
    "EXIT_BAD_SETTING",
    "CommonSettings",
    "EnvReader",
    "LogLevel",
    "Secret",
    "SettingsFactory",
    "check_url",
    "is_host",
    "load_settings",
    "read_store_url",
    "settings_error_line",
    "settings_repr",
    "shown",
    "shown_url",
]
