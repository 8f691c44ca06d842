"""Each service's table of variables: it fills every attribute of its
settings class, agrees with the class's defaults, and masks its secrets."""

from __future__ import annotations

import dataclasses
from typing import Any, Final

import pytest

from promethean.errors import SettingsError
from promethean.settings import CommonSettings, ServiceSettings, VariableTable, kinds
from promethean.settings.kinds import AtLeast
from promethean.settings.variables import Derived, Nested
from promethean_broker.settings import BrokerSettings
from promethean_compactor.settings import CompactorSettings
from promethean_gateway.settings import GatewaySettings, JwksSettings
from promethean_outbox_drainer.settings import DrainerSettings
from promethean_worker.settings import WorkerSettings

SERVICE_CLASSES: Final[tuple[type[ServiceSettings], ...]] = (
    BrokerSettings,
    CompactorSettings,
    DrainerSettings,
    GatewaySettings,
    WorkerSettings,
)
IDENTITY_FIELDS: Final = ("broker_id", "compactor_id", "drainer_id", "instance_id")
"""Defaults that are made per process (hostname, pid): compared as read."""
GATEWAY_MINIMUM: Final = {"JWT_SECRET": "s" * 32}
"""The gateway refuses to start without a way to check tokens."""


def _field_names(cls: type[Any]) -> set[str]:
    return {field.name for field in dataclasses.fields(cls)}


@pytest.mark.parametrize("cls", SERVICE_CLASSES, ids=lambda cls: cls.__name__)
def test_the_table_fills_every_attribute(cls: type[ServiceSettings]) -> None:
    assert set(cls.VARIABLES.fields) == _field_names(cls) - {"common"}


def test_the_common_table_fills_every_attribute() -> None:
    assert set(CommonSettings.VARIABLES.fields) == _field_names(CommonSettings) - {"service"}


def test_the_jwks_table_fills_every_attribute() -> None:
    assert set(JwksSettings.VARIABLES.fields) == _field_names(JwksSettings)


@pytest.mark.parametrize("cls", SERVICE_CLASSES, ids=lambda cls: cls.__name__)
def test_table_defaults_are_the_class_defaults(cls: type[ServiceSettings]) -> None:
    environ = GATEWAY_MINIMUM if cls is GatewaySettings else {}
    read = cls.from_env(environ)
    kept = {name: getattr(read, name) for name in IDENTITY_FIELDS if hasattr(read, name)}
    if isinstance(read, GatewaySettings):
        kept["jwt"] = read.jwt
    constructed = cls(**kept)  # type: ignore[call-arg]
    assert constructed == read


@pytest.mark.parametrize("cls", SERVICE_CLASSES, ids=lambda cls: cls.__name__)
def test_variable_names_are_unique_in_a_table(cls: type[ServiceSettings]) -> None:
    names = [variable.name for variable in cls.VARIABLES.variables]
    assert len(names) == len(set(names))


def test_a_secret_attribute_prints_masked() -> None:
    settings = GatewaySettings.from_env({"WS_TOKEN": "dev-s3cr3t", "PROMETHEAN_DEV": "1"})
    assert "dev-s3cr3t" not in repr(settings)
    assert "ws_token=***" in repr(settings)
    assert "WS_TOKEN" in {v.name for v in GatewaySettings.VARIABLES.variables if v.secret}
    assert "ws_token" in GatewaySettings.VARIABLES.secret_fields


def test_a_secret_field_is_masked_whatever_its_type() -> None:
    @dataclasses.dataclass(frozen=True, repr=False)
    class Keys(ServiceSettings):
        VARIABLES = VariableTable(Derived("signing_key", lambda env, values: "", secret=True))
        signing_key: str = "k3y-material"
        unset_key: str | None = None

    assert repr(Keys()) == "Keys(signing_key=***, unset_key=None)"


def test_at_least_names_the_other_variable() -> None:
    table = VariableTable(
        kinds.integer("LOW", "low", 10, (0, 100), "The floor."),
        kinds.integer("HIGH", "high", 20, (0, 100), "Above it.", at_least=AtLeast("low", "LOW")),
    )
    assert table.read({"LOW": "15"}) == {"low": 15, "high": 20}
    with pytest.raises(SettingsError) as raised:
        table.read({"LOW": "30"})
    assert str(raised.value) == "HIGH=20 is invalid: at least LOW (30)"
    assert "| `HIGH` | `20` | 0 to 100, and at least `LOW` | Above it. |" in table.markdown()


def test_derived_and_nested_entries() -> None:
    @dataclasses.dataclass(frozen=True)
    class Inner:
        every_s: float = 1.0

    inner = VariableTable(
        kinds.seconds_from_ms("EVERY_MS", "every_s", 1.0, (0, 10_000), "How often.")
    )
    table = VariableTable(
        kinds.documented("PART", "Read below.", allowed="text"),
        Derived("part", lambda env, values: env.raw("PART") or "none"),
        Nested("inner", Inner, inner),
    )
    assert table.read({"EVERY_MS": "2500"}) == {"part": "none", "inner": Inner(2.5)}
    assert [variable.name for variable in table.variables] == ["PART", "EVERY_MS"]
    assert table.fields == ("part", "inner")


def test_bus_url_defaults_to_the_local_broker_port() -> None:
    table = VariableTable(kinds.bus_url("bus_url", "The broker."))
    assert table.read({"BUS_PORT": "7171"}) == {"bus_url": "ws://127.0.0.1:7171/ws"}
    with pytest.raises(SettingsError, match=r"^BUS_URL=http://x is invalid"):
        table.read({"BUS_URL": "http://x"})


def test_numbers_are_documented_in_plain_decimal() -> None:
    variable = kinds.number("RATE", "rate", 1000.0, (0.001, 1_000_000.0), "Per second.")
    assert variable.markdown_row == "| `RATE` | `1000` | 0.001 to 1000000 | Per second. |"
