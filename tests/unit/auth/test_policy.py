"""Scope and policy matching, without sockets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promethean.auth.policy import Action, PolicyError, compile_policy, topic_matches

segment = st.text(alphabet="abcxyz09_-", min_size=1, max_size=4)
names = st.lists(segment, min_size=1, max_size=6).map(".".join)


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("a.*", "a.b", True),
        ("a.*", "a.b.c", False),
        ("a.*", "a", False),
        ("a.**", "a", True),
        ("a.**", "a.b.c", True),
        ("a.**", "ab.c", False),
        ("**", "anything.at.all", True),
        ("*.b.**", "x.b", True),
        ("*.b.**", "x.c.b", False),
        ("a.**.z", "a.z", True),
        ("a.**.z", "a.b.c.z", True),
        ("a.**.z", "a.b.c.y", False),
        ("heartbeat.*", "heartbeat.received", True),
    ],
)
def test_pattern_matching(pattern: str, name: str, expected: bool) -> None:
    assert topic_matches(pattern, name) is expected


@given(names)
def test_a_name_matches_itself_and_double_star(name: str) -> None:
    assert topic_matches(name, name)
    assert topic_matches("**", name)


@given(names, names)
def test_single_star_matches_exactly_one_segment(prefix: str, rest: str) -> None:
    assert topic_matches(prefix + ".*", prefix + "." + rest) is ("." not in rest)


@given(names, names)
def test_double_star_suffix_matches_only_whole_segment_prefixes(prefix: str, name: str) -> None:
    expected = name == prefix or name.startswith(prefix + ".")
    assert topic_matches(prefix + ".**", name) is expected


def test_scopes_and_first_match_wins_default_deny() -> None:
    policy = compile_policy(
        ["publish:orders.*", "subscribe:process.**", "openid"],
        {
            "rules": [
                {"effect": "deny", "action": "publish", "topics": ["orders.secret"]},
                {
                    "effect": "allow",
                    "action": "subscribe",
                    "topics": ["audit"],
                    "groups": ["ops.*"],
                },
            ]
        },
    )
    assert policy.allows(Action.PUBLISH, "orders.created")
    assert not policy.allows(Action.PUBLISH, "orders.secret")
    assert not policy.allows(Action.PUBLISH, "orders.a.b")
    assert policy.allows(Action.SUBSCRIBE, "process.state", "any")
    assert not policy.allows(Action.PUBLISH, "process.state")
    assert policy.allows(Action.SUBSCRIBE, "audit", "ops.night")
    assert not policy.allows(Action.SUBSCRIBE, "audit", "dev")
    assert not compile_policy().allows(Action.PUBLISH, "x")


def test_space_separated_scope_string() -> None:
    assert compile_policy("publish:a.* subscribe:b").allows(Action.SUBSCRIBE, "b", "g")


@pytest.mark.parametrize(
    ("scopes", "policy"),
    [
        (["publish:a..b"], None),
        (["publish:a.b*"], None),
        ([1], None),
        (None, {"rules": "nope"}),
        (None, {"rules": [{"effect": "maybe", "action": "publish", "topics": ["a"]}]}),
        (None, {"rules": [{"effect": "allow", "action": "delete", "topics": ["a"]}]}),
        (None, {"rules": [{"effect": "allow", "action": "publish", "topics": []}]}),
        (None, {"rules": [{"effect": "allow", "action": "publish", "topics": ["$where"]}]}),
    ],
)
def test_malformed_claims_are_refused(scopes: object, policy: object) -> None:
    with pytest.raises(PolicyError):
        compile_policy(scopes, policy)
