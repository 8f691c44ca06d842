"""Read one environment variable at a time as a typed, bounded value.

In the spirit of Starlette's ``Config``: every variable is cast once, at
start-up, and a value the service cannot use raises
:class:`~promethean.errors.SettingsError` naming the variable, the value as it
may be shown (secrets masked, URL passwords masked, one line), and what is
allowed. A variable that is unset or blank takes its default.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Collection, Mapping
from enum import Enum
from typing import Final, TypeVar
from urllib.parse import urlsplit

from promethean.errors import SettingsError
from promethean.settings.secret import MASK, Secret
from promethean.urls import mask_url

E = TypeVar("E", bound=Enum)

MAX_SHOWN_CHARS: Final = 80
MAX_SECRET_CHARS: Final = 4096
PORT_MIN: Final = 1
PORT_MAX: Final = 65535

ALLOWED_BOOL: Final = "one of 1, 0, true, false, yes, no"
ALLOWED_HOST: Final = "a hostname or an IP address"
ALLOWED_SECRET: Final = f"1 to {MAX_SECRET_CHARS} printable characters without spaces"

_TRUE: Final = frozenset({"1", "true", "yes"})
_FALSE: Final = frozenset({"0", "false", "no"})
_INTEGER_RE: Final = re.compile(r"[+-]?[0-9]{1,19}")
_HOST_LABEL_RE: Final = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def shown(value: str) -> str:
    """``value`` made safe for a one-line message: escaped and shortened."""
    text = value if value.isprintable() else value.encode("unicode_escape").decode("ascii")
    if len(text) > MAX_SHOWN_CHARS:
        return text[: MAX_SHOWN_CHARS - 3] + "..."
    return text


def shown_url(url: str) -> str:
    """A URL for a message, its password masked; ``***`` if it cannot be parsed."""
    try:
        return shown(mask_url(url))
    except ValueError:
        return MASK


def range_text(low: int | float | None, high: int | float | None) -> str:
    if low is not None and high is not None:
        return f"from {low} to {high}"
    if low is not None:
        return f"of at least {low}"
    if high is not None:
        return f"of at most {high}"
    return ""


def _with_range(noun: str, low: int | float | None, high: int | float | None) -> str:
    bounds = range_text(low, high)
    return f"{noun} {bounds}" if bounds else noun


def is_host(value: str) -> bool:
    """True for an IPv4/IPv6 address or an RFC 1123 hostname."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        pass
    else:
        return True
    name = value.removesuffix(".")
    if not name or len(name) > 253:
        return False
    return all(_HOST_LABEL_RE.fullmatch(label) for label in name.split("."))


def check_url(variable: str, url: str, schemes: Collection[str]) -> str:
    """``url`` if it has the form ``scheme://...`` with a scheme from ``schemes``."""
    allowed = "a URL starting with " + ", ".join(f"{s}://" for s in schemes)
    scheme, sep, _ = url.partition("://")
    if not sep or scheme.lower() not in schemes:
        raise SettingsError(variable, shown_url(url), allowed)
    try:
        urlsplit(url).port  # noqa: B018 - parsing the port is the check
    except ValueError:
        raise SettingsError(variable, shown_url(url), allowed + " and a valid port") from None
    return url


class EnvReader:
    """Typed access to one environment mapping (``os.environ`` or a test dict)."""

    __slots__ = ("_environ",)

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    @property
    def environ(self) -> Mapping[str, str]:
        return self._environ

    def raw(self, name: str) -> str | None:
        """The value with surrounding whitespace removed; ``None`` if unset or blank."""
        value = self._environ.get(name)
        if value is None:
            return None
        value = value.strip()
        return value or None

    def integer(
        self,
        name: str,
        default: int,
        *,
        min_value: int | None = None,
        max_value: int | None = None,
    ) -> int:
        value = self.raw(name)
        if value is None:
            return default
        allowed = _with_range("an integer", min_value, max_value)
        return _parse_integer(name, value, allowed, min_value, max_value)

    def number(self, name: str, default: float, *, min_value: float, max_value: float) -> float:
        value = self.raw(name)
        if value is None:
            return default
        allowed = _with_range("a number", min_value, max_value)
        try:
            number = float(value)
        except ValueError:
            raise SettingsError(name, shown(value), allowed) from None
        if not math.isfinite(number) or not min_value <= number <= max_value:
            raise SettingsError(name, shown(value), allowed)
        return number

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise SettingsError(name, shown(value), ALLOWED_BOOL)

    def choice(self, name: str, default: E, enum: type[E]) -> E:
        """One member of ``enum``, chosen by its value (case-insensitive)."""
        value = self.raw(name)
        if value is None:
            return default
        for member in enum:
            if str(member.value).lower() == value.lower():
                return member
        allowed = "one of " + ", ".join(str(member.value) for member in enum)
        raise SettingsError(name, shown(value), allowed)

    def duration_ms(
        self, name: str, default: int, *, min_ms: int = 0, max_ms: int | None = None
    ) -> int:
        """A whole number of milliseconds (the variable's name says the unit)."""
        value = self.raw(name)
        if value is None:
            return default
        allowed = _with_range("a whole number of milliseconds", min_ms, max_ms)
        return _parse_integer(name, value, allowed, min_ms, max_ms)

    def url(self, name: str, default: str, *, schemes: Collection[str]) -> str:
        value = self.raw(name)
        if value is None:
            return default
        return check_url(name, value, schemes)

    def secret(self, name: str) -> Secret | None:
        """A secret, not stripped (a token is used exactly as given); shown as ``***``."""
        value = self._environ.get(name)
        if value is None or not value.strip():
            return None
        if len(value) > MAX_SECRET_CHARS or not value.isprintable() or " " in value:
            raise SettingsError(name, MASK, ALLOWED_SECRET)
        return Secret(value)

    def host(self, name: str, default: str) -> str:
        value = self.raw(name)
        if value is None:
            return default
        if not is_host(value):
            raise SettingsError(name, shown(value), ALLOWED_HOST)
        return value

    def port(self, name: str, default: int) -> int:
        value = self.raw(name)
        if value is None:
            return default
        allowed = _with_range("a port number", PORT_MIN, PORT_MAX)
        return _parse_integer(name, value, allowed, PORT_MIN, PORT_MAX)

    def comma_list(
        self,
        name: str,
        default: tuple[str, ...] = (),
        *,
        allowed: Collection[str] | None = None,
    ) -> tuple[str, ...]:
        """Items separated by commas, blanks dropped; each one of ``allowed`` if given."""
        value = self.raw(name)
        if value is None:
            return default
        items = tuple(item.strip() for item in value.split(",") if item.strip())
        if allowed is not None:
            for item in items:
                if item not in allowed:
                    choices = ", ".join(sorted(allowed))
                    raise SettingsError(name, shown(value), f"a comma-separated list of: {choices}")
        return items


def _parse_integer(name: str, value: str, allowed: str, low: int | None, high: int | None) -> int:
    if not _INTEGER_RE.fullmatch(value):
        raise SettingsError(name, shown(value), allowed)
    number = int(value)
    if (low is not None and number < low) or (high is not None and number > high):
        raise SettingsError(name, shown(value), allowed)
    return number
