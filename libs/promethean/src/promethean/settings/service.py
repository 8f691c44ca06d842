"""The base of every service's settings class.

A service declares a frozen dataclass (its attributes, typed, with their
defaults) that subclasses :class:`ServiceSettings` and names its
``SERVICE`` and its table of ``VARIABLES`` (as class keywords); ``from_env`` reads the common
settings, then the table, and builds the object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self, cast

from promethean.settings.common import CommonSettings
from promethean.settings.redaction import settings_repr
from promethean.settings.variables import VariableTable


class ServiceSettings:
    """Settings of one service: ``common`` plus the attributes of its table."""

    __slots__ = ()

    SERVICE: ClassVar[str]
    VARIABLES: ClassVar[VariableTable]

    __repr__ = settings_repr

    def __init_subclass__(
        cls,
        *,
        service: str | None = None,
        variables: VariableTable | None = None,
        **kwargs: Any,
    ) -> None:
        """``class XSettings(ServiceSettings, service=SERVICE, variables=VARIABLES)``
        names the service and its table (a dataclass with ``slots`` re-creates
        the class, which then inherits them without the keywords)."""
        super().__init_subclass__(**kwargs)
        if service is not None:
            cls.SERVICE = service
        if variables is not None:
            cls.VARIABLES = variables

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Self:
        """Every attribute read from ``environ``; ``SettingsError`` names the first bad one."""
        common = CommonSettings.from_env(environ, service=cls.SERVICE)
        build = cast("Callable[..., Self]", cls)
        return build(**cls.VARIABLES.read(environ, common=common))
