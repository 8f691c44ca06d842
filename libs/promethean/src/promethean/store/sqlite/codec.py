"""JSON text for the JSON-valued columns (headers, tags, data, view values).

Columns hold JSON *text* (not BLOB) so SQLite's JSON functions can read them,
e.g. the header filter of `read` uses ``json_each(headers)``.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

_encoder: Final = msgspec.json.Encoder()
HEADERS: Final = msgspec.json.Decoder(dict[str, str])
STRINGS: Final = msgspec.json.Decoder(list[str])
OBJECT: Final = msgspec.json.Decoder(dict[str, Any])
ANY: Final = msgspec.json.Decoder()


def to_json(value: object) -> str:
    return _encoder.encode(value).decode()


def to_json_or_none(value: object | None) -> str | None:
    return None if value is None else _encoder.encode(value).decode()


def headers_or_none(text: str | None) -> dict[str, str] | None:
    return None if text is None else HEADERS.decode(text)


def strings_or_none(text: str | None) -> list[str] | None:
    return None if text is None else STRINGS.decode(text)
