"""The changelog projector: materialize a keyed topic into a store view.

Each event upserts its key in the view with its payload; a tombstone
(payload ``null``) deletes the key. The store keeps, per key, the offset it
last applied and refuses an older or equal one (`ViewStore.view_upsert`),
so a redelivered event changes nothing: applying the log twice gives the
same view as applying it once. A key's events share a partition, so their
offsets are comparable.

Run by ``promethean-worker`` as ``promethean.projectors.changelog:project``;
topics come from the handler entry (``...:project@orders|customers``) and
default to ``process.state``. ``PROMETHEAN_CHANGELOG_VIEWS`` names the view
of each topic (``process.state=processes,orders=orders``); a topic not
listed goes to a view named like the topic with dots as underscores.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Final

from promethean.client.types import Message
from promethean.errors import SettingsError
from promethean.names import is_valid_name
from promethean.projectors.contract import HandlerContext, HandlerSpec, PartitionHandler
from promethean.settings import Derived, EnvReader, VariableTable, kinds, shown
from promethean.settings.variables import Values
from promethean.store.port import ViewStore

log = logging.getLogger("promethean.projectors.changelog")

VIEWS_VAR: Final = "PROMETHEAN_CHANGELOG_VIEWS"
DEFAULT_VIEWS: Final[Mapping[str, str]] = {"process.state": "processes"}
TOMBSTONE: Final = b"null"
ALLOWED_VIEWS: Final = (
    "comma-separated topic=view pairs of valid names, each view used by one topic"
)


def default_view(topic: str) -> str:
    return topic.replace(".", "_")


def _configured_views(env: EnvReader, values: Values) -> dict[str, str]:
    configured = dict(DEFAULT_VIEWS)
    for item in env.comma_list(VIEWS_VAR):
        topic, sep, view = (part.strip() for part in item.partition("="))
        if not sep or not is_valid_name(topic) or not is_valid_name(view):
            raise SettingsError(VIEWS_VAR, shown(item), ALLOWED_VIEWS)
        configured[topic] = view
    return configured


def _views(env: EnvReader, values: Values) -> dict[str, str]:
    """Two topics may not share a view: offsets of different topics cannot be
    compared, so the per-key offset rule would drop events."""
    configured: dict[str, str] = values["configured_views"]
    topics: tuple[str, ...] = values["topics"]
    views = {topic: configured.get(topic, default_view(topic)) for topic in topics}
    if len(set(views.values())) != len(views):
        raise SettingsError(VIEWS_VAR, shown(repr(views)), ALLOWED_VIEWS)
    return views


VARIABLES: Final = VariableTable(
    kinds.custom(
        VIEWS_VAR,
        "configured_views",
        _configured_views,
        "The view each topic is materialized into; a topic not listed goes to the view"
        " named like it with dots as underscores.",
        default="`process.state=processes`",
        allowed="comma-separated `topic=view` pairs; one topic per view",
    ),
    Derived("views", _views),
)
"""The changelog projector's variables, read when the worker starts it."""


def parse_views(environ: Mapping[str, str], topics: tuple[str, ...]) -> dict[str, str]:
    """topic → view for ``topics``, from `DEFAULT_VIEWS` and ``PROMETHEAN_CHANGELOG_VIEWS``."""
    views: dict[str, str] = VARIABLES.read(environ, topics=topics)["views"]
    return views


class ChangelogProjector:
    def __init__(self, store: ViewStore, views: Mapping[str, str]) -> None:
        self._store = store
        self._views = dict(views)
        self.applied = 0
        self.skipped = 0

    def view_of(self, topic: str) -> str:
        return self._views.get(topic) or default_view(topic)

    async def handle(self, message: Message) -> None:
        if message.key is None:
            log.warning(
                "skipping an event without a key",
                extra={"topic": message.topic, "offset": message.offset},
            )
            self.skipped += 1
            return
        view = self.view_of(message.topic)
        if message.raw_payload.strip() == TOMBSTONE:
            applied = await self._store.view_delete(view, message.key, message.offset)
        else:
            applied = await self._store.view_upsert(
                view, message.key, message.payload, message.offset
            )
        if applied:
            self.applied += 1
        else:
            self.skipped += 1

    async def on_assigned(self, topic: str, partitions: frozenset[int]) -> None:
        return None

    async def on_revoked(self, topic: str, partitions: frozenset[int]) -> None:
        return None  # every write is already durable in the store

    async def close(self) -> None:
        return None


async def _start(context: HandlerContext, topics: tuple[str, ...]) -> PartitionHandler:
    views = parse_views(context.environ, topics)
    store = await context.open_store()
    return ChangelogProjector(store, views)


project: Final = HandlerSpec(name="changelog-projector", start=_start, topics=tuple(DEFAULT_VIEWS))
"""``promethean.projectors.changelog:project`` for ``PROMETHEAN_WORKER_HANDLERS``."""
