"""What a publisher asks the engine to append, and how an ack names a delivery."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PublishRequest:
    topic: str
    payload: bytes
    """The payload's JSON text, UTF-8 encoded; stored verbatim."""
    key: str | None = None
    headers: dict[str, str] | None = None
    id: str | None = None
    caused_by: list[str] | None = None
    tags: list[str] | None = None
    sid: str | None = None


@dataclass(frozen=True, slots=True)
class AckRef:
    topic: str
    group: str
    partition: int
    offset: int
