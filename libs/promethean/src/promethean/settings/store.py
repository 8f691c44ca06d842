"""The store URL, selected as ARCHITECTURE.md says and checked at start-up.

Selection is :func:`promethean.store.factory.store_url_from_env`:
``PROMETHEAN_STORE`` if set; else ``MONGO_URL`` (+ ``MONGO_DB``); else SQLite
under ``./.promethean/``. A bad URL is blamed on the variable that chose it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from promethean.errors import SettingsError
from promethean.settings import kinds
from promethean.settings.env import EnvReader, check_url, shown, shown_url
from promethean.settings.variables import Derived, Entry, Values
from promethean.store.factory import (
    DEFAULT_SQLITE_URL,
    SUPPORTED_SCHEMES,
    scheme_of,
    store_url_from_env,
)
from promethean.urls import DEFAULT_MONGO_DB

MONGO_DB_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,63}")
ALLOWED_MONGO_DB: Final = "1 to 63 characters from A-Z a-z 0-9 _ -"
ALLOWED_STORE_URL: Final = (
    "a store URL: memory://, sqlite:///path, mongodb://host/db or mongodb+srv://host/db"
)


def read_store_url(environ: Mapping[str, str]) -> str:
    env = EnvReader(environ)
    if env.raw("PROMETHEAN_STORE") is not None:
        variable = "PROMETHEAN_STORE"
    elif env.raw("MONGO_URL") is not None:
        variable = "MONGO_URL"
        mongo_db = env.raw("MONGO_DB")
        if mongo_db is not None and not MONGO_DB_RE.fullmatch(mongo_db):
            raise SettingsError("MONGO_DB", shown(mongo_db), ALLOWED_MONGO_DB)
    else:
        return DEFAULT_SQLITE_URL
    url = store_url_from_env(environ)
    check_url(variable, url, SUPPORTED_SCHEMES)
    location = url.split("://", 1)[1]
    if scheme_of(url) != "memory" and not location.strip("/"):
        raise SettingsError(variable, shown_url(url), ALLOWED_STORE_URL)
    return url


def _store_url(env: EnvReader, values: Values) -> str:
    return read_store_url(env.environ)


STORE_VARIABLES: Final[tuple[Entry, ...]] = (
    kinds.documented(
        "PROMETHEAN_STORE",
        'The store, when set. See "Store selection" under "Broker".',
        allowed="`memory://`, `sqlite:///path`, `mongodb://...`, `mongodb+srv://...`",
    ),
    kinds.documented(
        "MONGO_URL",
        "Selects MongoDB when `PROMETHEAN_STORE` is unset.",
        allowed="`mongodb://...` or `mongodb+srv://...`",
    ),
    kinds.documented(
        "MONGO_DB",
        "Database used with `MONGO_URL` when the URL names none.",
        default=kinds.code(DEFAULT_MONGO_DB),
        allowed="1 to 63 characters from `A-Z a-z 0-9 _ -`",
    ),
    Derived("store_url", _store_url),
)
"""The store variables, read into ``store_url`` as :func:`read_store_url` selects."""
