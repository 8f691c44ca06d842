"""Choose and build a store adapter from a URL.

Selection order (ARCHITECTURE.md): ``PROMETHEAN_STORE`` if set; else
``MONGO_URL`` (+ ``MONGO_DB``) selects MongoDB; else SQLite under
``./.promethean/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from promethean.store.port import Store
from promethean.urls import DEFAULT_MONGO_DB, mask_url

DEFAULT_SQLITE_URL = "sqlite:///.promethean/bus.db"
SUPPORTED_SCHEMES = ("memory", "sqlite", "mongodb", "mongodb+srv")


def store_url_from_env(environ: Mapping[str, str]) -> str:
    explicit = environ.get("PROMETHEAN_STORE", "").strip()
    if explicit:
        return explicit
    mongo = environ.get("MONGO_URL", "").strip()
    if mongo:
        db = environ.get("MONGO_DB", "").strip() or DEFAULT_MONGO_DB
        parts = urlsplit(mongo)
        if parts.path in ("", "/"):
            parts = parts._replace(path="/" + db)
        return urlunsplit(parts)
    return DEFAULT_SQLITE_URL


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def open_store(url: str) -> Store:
    """Build (not yet open) the adapter for ``url``; call ``await store.open()``."""
    scheme = scheme_of(url)
    if scheme == "memory":
        from promethean.store.memory import MemoryStore

        return MemoryStore(url)
    if scheme == "sqlite":
        from promethean.store.sqlite import SQLiteStore

        return SQLiteStore(url)
    if scheme in ("mongodb", "mongodb+srv"):
        from promethean.store.mongo import MongoStore

        return MongoStore(url)
    raise ValueError(
        f"unsupported store URL {mask_url(url)!r}: use one of "
        + ", ".join(f"{s}://" for s in SUPPORTED_SCHEMES)
    )
