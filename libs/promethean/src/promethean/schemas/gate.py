"""Validation on publish: the engine's `PublishCheck` for topics with
``validate`` set.

The latest schema of ``<topic>-value`` is looked up in the store and kept
for ``latest_ttl_ms`` (the registry in the same process drops it at once
when it registers or deletes a version); compiled validators are cached per
schema id. A valid payload is stored with the schema id in the
``promethean-schema-id`` header.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

import jsonschema_rs

from promethean.bus.checks import SchemaInvalidError
from promethean.bus.requests import PublishRequest
from promethean.clock import Clock
from promethean.schemas.subjects import value_subject
from promethean.schemas.validation import ValidatorCache, check_payload
from promethean.store.port import SchemaStore

SCHEMA_ID_HEADER: Final = "promethean-schema-id"
LATEST_TTL_MS: Final = 1_000
MAX_SUBJECTS: Final = 4096
NO_SCHEMA: Final = "topic {topic} validates payloads but subject {subject} has no schema"


@dataclass(frozen=True, slots=True)
class _Latest:
    schema_id: str
    validator: jsonschema_rs.Validator | None
    expires_ms: int


class SchemaGate:
    def __init__(
        self,
        store: SchemaStore,
        clock: Clock,
        cache: ValidatorCache | None = None,
        *,
        latest_ttl_ms: int = LATEST_TTL_MS,
    ) -> None:
        self._store = store
        self._clock = clock
        self.validators = cache if cache is not None else ValidatorCache()
        self._ttl = latest_ttl_ms
        self._latest: OrderedDict[str, _Latest] = OrderedDict()

    def forget(self, subject: str) -> None:
        """The subject changed: look its latest version up again."""
        self._latest.pop(subject, None)

    async def _refresh(self, subject: str) -> _Latest:
        latest = await self._store.get_schema(subject)
        expires = self._clock.now_ms() + self._ttl
        if latest is None:
            entry = _Latest("", None, expires)
        else:
            validator = self.validators.get(latest.id, latest.schema)
            entry = _Latest(str(latest.id), validator, expires)
        self._latest.pop(subject, None)
        self._latest[subject] = entry
        if len(self._latest) > MAX_SUBJECTS:
            self._latest.popitem(last=False)
        return entry

    def admit_cached(self, request: PublishRequest) -> dict[str, str] | None:
        """As `admit` while the subject's latest version is cached; None when
        it must be looked up first."""
        subject = value_subject(request.topic)
        latest = self._latest.get(subject)
        if latest is None or latest.expires_ms <= self._clock.now_ms():
            return None
        return self._check(request, subject, latest)

    async def admit(self, request: PublishRequest) -> dict[str, str]:
        subject = value_subject(request.topic)
        latest = self._latest.get(subject)
        if latest is None or latest.expires_ms <= self._clock.now_ms():
            latest = await self._refresh(subject)
        return self._check(request, subject, latest)

    @staticmethod
    def _check(request: PublishRequest, subject: str, latest: _Latest) -> dict[str, str]:
        if latest.validator is None:
            raise SchemaInvalidError(NO_SCHEMA.format(topic=request.topic, subject=subject))
        violation = check_payload(latest.validator, request.payload)
        if violation is not None:
            raise SchemaInvalidError(f"schema {latest.schema_id} of {subject}: {violation}")
        if request.headers:
            return {**request.headers, SCHEMA_ID_HEADER: latest.schema_id}
        return {SCHEMA_ID_HEADER: latest.schema_id}
