"""Scope and policy matching: which topics (and groups) a token may publish
to or subscribe on. Pure functions and data, no I/O.

A token's ``scopes`` (``publish:heartbeat.*``, ``subscribe:process.**``) and
its ``policy {rules: [{effect, action, topics, groups?}]}`` compile into one
ordered rule list: the policy's rules first, in their order, then one
``allow`` rule per scope. The first rule that matches decides; when none
matches the action is denied.

Patterns match names segment by segment (segments are separated by ``.``):
``*`` is exactly one segment, ``**`` is zero or more segments, anything else
is a literal segment. ``a.*`` matches ``a.b`` but not ``a`` or ``a.b.c``;
``a.**`` matches ``a``, ``a.b`` and ``a.b.c`` but not ``ab.c``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from promethean.errors import PrometheanError
from promethean.frames.codes import ErrorCode

ONE: Final = "*"
ANY: Final = "**"
MAX_PATTERN_CHARS: Final = 256
MAX_RULES: Final = 256
MAX_PATTERNS_PER_RULE: Final = 64
MAX_SCOPES: Final = 256

_LITERAL_SEGMENT: Final = re.compile(r"[A-Za-z0-9_-]{1,200}")


class PolicyError(PrometheanError, ValueError):
    """A ``scopes`` or ``policy`` claim is malformed; the token is refused."""

    code = ErrorCode.UNAUTHORIZED.value


class Action(enum.StrEnum):
    PUBLISH = "publish"
    SUBSCRIBE = "subscribe"


class Effect(enum.StrEnum):
    ALLOW = "allow"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class Pattern:
    """A compiled topic or group pattern."""

    text: str
    segments: tuple[str, ...]

    def matches(self, name: str) -> bool:
        return _segments_match(self.segments, name.split("."))


def parse_pattern(text: str) -> Pattern:
    if not isinstance(text, str) or not 0 < len(text) <= MAX_PATTERN_CHARS:
        raise PolicyError(f"a pattern must be a string of 1 to {MAX_PATTERN_CHARS} characters")
    segments = tuple(text.split("."))
    for segment in segments:
        if segment not in (ONE, ANY) and not _LITERAL_SEGMENT.fullmatch(segment):
            raise PolicyError(
                f"pattern {text[:64]!r} has an invalid segment: each is *, ** or "
                "1-200 characters of A-Z a-z 0-9 _ -"
            )
    return Pattern(text, segments)


def _segments_match(pattern: Sequence[str], name: Sequence[str]) -> bool:
    """Wildcard matching over segments, linear-time with one backtrack point
    (the classic glob algorithm: ``**`` plays ``*``, ``*`` plays ``?``)."""
    p = n = 0
    star_p = -1
    star_n = 0
    while n < len(name):
        if p < len(pattern) and pattern[p] == ANY:
            star_p, star_n = p, n
            p += 1
        elif p < len(pattern) and (pattern[p] == ONE or pattern[p] == name[n]):
            p += 1
            n += 1
        elif star_p >= 0:
            star_n += 1
            p, n = star_p + 1, star_n
        else:
            return False
    while p < len(pattern) and pattern[p] == ANY:
        p += 1
    return p == len(pattern)


def topic_matches(pattern: str, name: str) -> bool:
    """True when ``pattern`` matches the topic or group ``name``."""
    return parse_pattern(pattern).matches(name)


@dataclass(frozen=True, slots=True)
class Rule:
    effect: Effect
    actions: frozenset[Action]
    topics: tuple[Pattern, ...]
    groups: tuple[Pattern, ...] | None = None
    """Restricts ``subscribe`` (and acks) to these groups; ignored for ``publish``."""

    def matches(self, action: Action, topic: str, group: str | None) -> bool:
        if action not in self.actions:
            return False
        if not any(p.matches(topic) for p in self.topics):
            return False
        if self.groups is None or group is None:
            return True
        return any(p.matches(group) for p in self.groups)


@dataclass(frozen=True, slots=True)
class Policy:
    """Ordered rules; the first that matches decides, none means deny."""

    rules: tuple[Rule, ...]

    def allows(self, action: Action, topic: str, group: str | None = None) -> bool:
        for rule in self.rules:
            if rule.matches(action, topic, group):
                return rule.effect is Effect.ALLOW
        return False


ALLOW_ALL: Final = Policy((Rule(Effect.ALLOW, frozenset(Action), (Pattern(ANY, (ANY,)),)),))
"""What the dev-only static ``WS_TOKEN`` grants."""


def _string_list(value: object, what: str, limit: int) -> list[str]:
    if isinstance(value, str):
        items = [value]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = list(value)
    else:
        raise PolicyError(f"`{what}` must be a string or a list of strings")
    if not items or len(items) > limit:
        raise PolicyError(f"`{what}` must hold 1 to {limit} entries")
    return items


def _actions(value: object) -> frozenset[Action]:
    names = _string_list(value, "action", len(Action) + 1)
    if "*" in names:
        return frozenset(Action)
    try:
        return frozenset(Action(name) for name in names)
    except ValueError:
        raise PolicyError("`action` must be publish, subscribe or *") from None


def _rule(raw: object) -> Rule:
    if not isinstance(raw, dict):
        raise PolicyError("each policy rule must be an object")
    try:
        effect = Effect(str(raw.get("effect")))
    except ValueError:
        raise PolicyError("a rule's `effect` must be allow or deny") from None
    topics = tuple(
        parse_pattern(t) for t in _string_list(raw.get("topics"), "topics", MAX_PATTERNS_PER_RULE)
    )
    groups_raw = raw.get("groups")
    groups = None
    if groups_raw is not None:
        groups = tuple(
            parse_pattern(g) for g in _string_list(groups_raw, "groups", MAX_PATTERNS_PER_RULE)
        )
    return Rule(effect, _actions(raw.get("action")), topics, groups)


def policy_rules(policy: object) -> list[Rule]:
    """The rules of a ``policy`` claim: ``{"rules": [...]}``."""
    if policy is None:
        return []
    if not isinstance(policy, dict) or not isinstance(policy.get("rules"), list):
        raise PolicyError("`policy` must be an object with a `rules` list")
    rules = policy["rules"]
    if len(rules) > MAX_RULES:
        raise PolicyError(f"`policy.rules` holds more than {MAX_RULES} rules")
    return [_rule(raw) for raw in rules]


def scope_rules(scopes: Iterable[str]) -> list[Rule]:
    """One allow rule per ``publish:<pattern>`` / ``subscribe:<pattern>``
    scope; scopes naming other actions (``openid``, ``read:x``) are ignored."""
    rules = []
    for scope in scopes:
        action, sep, pattern = scope.partition(":")
        if not sep or action not in Action.__members__.values():
            continue
        rules.append(Rule(Effect.ALLOW, frozenset({Action(action)}), (parse_pattern(pattern),)))
    return rules


def split_scopes(value: object) -> list[str]:
    """``scopes`` as a list of strings, or a space-separated string (OAuth ``scope``)."""
    if value is None:
        return []
    if isinstance(value, str):
        items = value.split()
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = list(value)
    else:
        raise PolicyError("`scopes` must be a list of strings or a space-separated string")
    if len(items) > MAX_SCOPES:
        raise PolicyError(f"more than {MAX_SCOPES} scopes")
    return items


def compile_policy(scopes: object = None, policy: object = None) -> Policy:
    """One `Policy` from the raw ``scopes`` and ``policy`` claims."""
    return Policy(tuple(policy_rules(policy) + scope_rules(split_scopes(scopes))))
