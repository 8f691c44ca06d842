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
from dataclasses import dataclass, replace
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
    schema_id: int
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
        self.validators = cache or ValidatorCache()
        self._ttl = latest_ttl_ms
        self._latest: OrderedDict[str, _Latest] = OrderedDict()

    def forget(self, subject: str) -> None:
        """The subject changed: look its latest version up again."""
        self._latest.pop(subject, None)

    async def _lookup(self, subject: str) -> _Latest:
        now = self._clock.now_ms()
        known = self._latest.get(subject)
        if known is not None and known.expires_ms > now:
            return known
        latest = await self._store.get_schema(subject)
        if latest is None:
            entry = _Latest(0, None, now + self._ttl)
        else:
            validator = self.validators.get(latest.id, latest.schema)
            entry = _Latest(latest.id, validator, now + self._ttl)
        self._latest[subject] = entry
        self._latest.move_to_end(subject)
        if len(self._latest) > MAX_SUBJECTS:
            self._latest.popitem(last=False)
        return entry

    async def admit(self, request: PublishRequest) -> PublishRequest:
        subject = value_subject(request.topic)
        latest = await self._lookup(subject)
        if latest.validator is None:
            raise SchemaInvalidError(NO_SCHEMA.format(topic=request.topic, subject=subject))
        violation = check_payload(latest.validator, request.payload)
        if violation is not None:
            raise SchemaInvalidError(f"schema {latest.schema_id} of {subject}: {violation}")
        headers = dict(request.headers or {})
        headers[SCHEMA_ID_HEADER] = str(latest.schema_id)
        return replace(request, headers=headers)
