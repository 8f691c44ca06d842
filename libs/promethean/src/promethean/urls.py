"""URL helpers every layer may use: hiding a URL's password, and the
database a MongoDB URL names when it names none.

They live here, below the store and the settings, so that the store
factory, the MongoDB adapter and the settings' redaction share them
without importing one another.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit, urlunsplit

DEFAULT_MONGO_DB: Final = "promethean"


def mask_url(url: str) -> str:
    """The URL with its password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
