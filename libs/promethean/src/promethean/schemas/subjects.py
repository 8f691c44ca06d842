"""Subject names: a topic's values are registered under ``<topic>-value``
(Confluent's TopicNameStrategy)."""

from __future__ import annotations

from typing import Final

VALUE_SUFFIX: Final = "-value"
MAX_SUBJECT_BYTES: Final = 512


def value_subject(topic: str) -> str:
    return topic + VALUE_SUFFIX


def topic_of(subject: str) -> str | None:
    """The topic whose values ``subject`` describes, if it is such a subject."""
    if subject.endswith(VALUE_SUFFIX) and len(subject) > len(VALUE_SUFFIX):
        return subject[: -len(VALUE_SUFFIX)]
    return None


def is_valid_subject(subject: str) -> bool:
    """Any printable text up to 512 bytes (Confluent allows any string)."""
    return (
        0 < len(subject.encode()) <= MAX_SUBJECT_BYTES
        and subject.isprintable()
        and subject.strip() == subject
    )
