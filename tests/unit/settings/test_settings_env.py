"""EnvReader: each typed reader, its bounds, and what a bad value reports."""

from __future__ import annotations

import enum

import pytest

from promethean.errors import SettingsError
from promethean.settings import EnvReader, Secret, shown


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


def read(**environ: str) -> EnvReader:
    return EnvReader(environ)


def test_unset_and_blank_values_take_the_default() -> None:
    env = read(BLANK="   ")
    assert env.integer("UNSET", 7) == 7
    assert env.integer("BLANK", 7) == 7
    assert env.raw("BLANK") is None
    assert env.comma_list("BLANK", ("a",)) == ("a",)


def test_integer_accepts_surrounding_whitespace_and_a_sign() -> None:
    assert read(N=" 42 ").integer("N", 0) == 42
    assert read(N="-3").integer("N", 0, min_value=-5) == -3


@pytest.mark.parametrize("value", ["1.5", "ten", "1e3", "0x10", "1 000", "9" * 40])
def test_integer_rejects_what_is_not_a_whole_number(value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        read(N=value).integer("N", 0, min_value=0, max_value=100)
    assert caught.value.variable == "N"
    assert caught.value.allowed == "an integer from 0 to 100"


@pytest.mark.parametrize(("value", "ok"), [("9", False), ("10", True), ("20", True), ("21", False)])
def test_integer_bounds_are_inclusive(value: str, ok: bool) -> None:
    env = read(N=value)
    if ok:
        assert env.integer("N", 0, min_value=10, max_value=20) == int(value)
    else:
        with pytest.raises(SettingsError, match=r"^N=\d+ is invalid: an integer from 10 to 20$"):
            env.integer("N", 0, min_value=10, max_value=20)


def test_integer_with_one_bound_says_so() -> None:
    with pytest.raises(SettingsError) as caught:
        read(N="0").integer("N", 5, min_value=1)
    assert caught.value.allowed == "an integer of at least 1"


@pytest.mark.parametrize("value", ["0", "0.25", "1", "1.0", " 0.5 "])
def test_number_in_range(value: str) -> None:
    assert read(X=value).number("X", 0.0, min_value=0.0, max_value=1.0) == float(value)


@pytest.mark.parametrize("value", ["-0.01", "1.01", "nan", "inf", "-inf", "half"])
def test_number_out_of_range_or_not_finite(value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        read(X=value).number("X", 0.0, min_value=0.0, max_value=1.0)
    assert caught.value.allowed == "a number from 0.0 to 1.0"
    assert caught.value.shown_value == value.strip()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", True),
        ("true", True),
        ("TRUE", True),
        ("yes", True),
        ("Yes", True),
        ("0", False),
        ("false", False),
        ("no", False),
        ("NO", False),
    ],
)
def test_boolean_words(value: str, expected: bool) -> None:
    assert read(B=value).boolean("B", not expected) is expected


@pytest.mark.parametrize("value", ["on", "off", "2", "y", "t", "enabled"])
def test_boolean_rejects_other_words(value: str) -> None:
    with pytest.raises(SettingsError, match=r"one of 1, 0, true, false, yes, no$"):
        read(B=value).boolean("B", False)


def test_choice_matches_enum_values_case_insensitively() -> None:
    assert read(C="BLUE").choice("C", Color.RED, Color) is Color.BLUE
    assert read().choice("C", Color.RED, Color) is Color.RED
    with pytest.raises(SettingsError) as caught:
        read(C="green").choice("C", Color.RED, Color)
    assert caught.value.allowed == "one of red, blue"


def test_duration_ms_is_whole_milliseconds_within_bounds() -> None:
    env = read(D="250", LOW="99", FRACTION="1.5", UNIT="5s")
    assert env.duration_ms("D", 0, min_ms=100, max_ms=1000) == 250
    for name in ("LOW", "FRACTION", "UNIT"):
        with pytest.raises(SettingsError) as caught:
            env.duration_ms(name, 0, min_ms=100, max_ms=1000)
        assert caught.value.allowed == "a whole number of milliseconds from 100 to 1000"


def test_url_checks_the_scheme_and_masks_the_password() -> None:
    schemes = ("sqlite", "mongodb")
    assert read(U="mongodb://h:27017/db").url("U", "", schemes=schemes) == "mongodb://h:27017/db"
    with pytest.raises(SettingsError) as caught:
        read(U="postgres://admin:hunter2@h/db").url("U", "", schemes=schemes)
    assert caught.value.shown_value == "postgres://admin:***@h/db"
    assert "hunter2" not in str(caught.value)
    assert caught.value.allowed == "a URL starting with sqlite://, mongodb://"


def test_url_with_a_bad_port_is_refused() -> None:
    with pytest.raises(SettingsError, match="valid port"):
        read(U="mongodb://h:99999/db").url("U", "", schemes=("mongodb",))


def test_secret_is_kept_verbatim_and_never_shown() -> None:
    token = read(T="s3cr3t-Token").secret("T")
    assert isinstance(token, Secret)
    assert token.reveal() == "s3cr3t-Token"
    assert read(T="  ").secret("T") is None
    assert read().secret("T") is None


@pytest.mark.parametrize("value", ["has space", "line\nbreak", "x" * 4097])
def test_bad_secret_is_reported_masked(value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        read(T=value).secret("T")
    assert caught.value.shown_value == "***"
    assert value not in str(caught.value)


@pytest.mark.parametrize(
    "value", ["0.0.0.0", "127.0.0.1", "::", "::1", "localhost", "broker-0.broker.svc", "a.b."]
)
def test_host_accepts_addresses_and_hostnames(value: str) -> None:
    assert read(H=value).host("H", "x") == value


@pytest.mark.parametrize("value", ["-bad.example", "under_score", "a..b", "http://h", "1.2.3.4:80"])
def test_host_rejects_what_cannot_be_bound(value: str) -> None:
    with pytest.raises(SettingsError, match=r"a hostname or an IP address$"):
        read(H=value).host("H", "x")


@pytest.mark.parametrize(
    ("value", "ok"), [("0", False), ("1", True), ("65535", True), ("65536", False)]
)
def test_port_range(value: str, ok: bool) -> None:
    if ok:
        assert read(P=value).port("P", 7070) == int(value)
    else:
        with pytest.raises(SettingsError, match=r"a port number from 1 to 65535$"):
            read(P=value).port("P", 7070)


def test_comma_list_strips_items_and_drops_blanks() -> None:
    assert read(L=" a, b ,,c ,").comma_list("L") == ("a", "b", "c")
    assert read(L="a,b").comma_list("L", allowed={"a", "b"}) == ("a", "b")
    with pytest.raises(SettingsError) as caught:
        read(L="a,zzz").comma_list("L", allowed={"b", "a"})
    assert caught.value.allowed == "a comma-separated list of: a, b"


def test_shown_value_is_one_short_line() -> None:
    assert shown("a\nb\tc") == "a\\nb\\tc"
    long = shown("x" * 500)
    assert len(long) == 80
    assert long.endswith("...")
