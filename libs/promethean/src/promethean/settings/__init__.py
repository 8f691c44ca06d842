"""Typed settings read from the environment, validated once at start-up.

Each service has one frozen settings dataclass, a :class:`ServiceSettings`
embedding :class:`CommonSettings`, whose attributes are read by one
:class:`VariableTable` (name, kind, default, range, secret, meaning of each
variable; docs/configuration.md's tables are generated from it). Its
``__main__`` calls :func:`load_settings`, which turns a bad value into one
line on stderr and exit code 2.
"""

from promethean.settings import kinds
from promethean.settings.common import DEFAULT_HOST, CommonSettings, LogLevel
from promethean.settings.env import EnvReader, check_url, is_host, shown, shown_url
from promethean.settings.loading import (
    EXIT_BAD_SETTING,
    SettingsFactory,
    load_settings,
    settings_error_line,
)
from promethean.settings.ports import DEFAULT_BUS_PORT, DEFAULT_WS_PORT
from promethean.settings.redaction import settings_repr
from promethean.settings.secret import Secret
from promethean.settings.service import ServiceSettings
from promethean.settings.store import read_store_url
from promethean.settings.variables import Derived, Variable, VariableTable

__all__ = [
    "DEFAULT_BUS_PORT",
    "DEFAULT_HOST",
    "DEFAULT_WS_PORT",
    "EXIT_BAD_SETTING",
    "CommonSettings",
    "Derived",
    "EnvReader",
    "LogLevel",
    "Secret",
    "ServiceSettings",
    "SettingsFactory",
    "Variable",
    "VariableTable",
    "check_url",
    "is_host",
    "kinds",
    "load_settings",
    "read_store_url",
    "settings_error_line",
    "settings_repr",
    "shown",
    "shown_url",
]
