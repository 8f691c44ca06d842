"""``PUBLISH`` and ``PUBLISH_BATCH`` on a broker connection.

Publishes are handled concurrently (bounded per connection) so one client
with many publishes in flight feeds the partition writers' group commit;
replies carry the request's ``corr``.
"""

from __future__ import annotations

import logging
from typing import Protocol

from opentelemetry.trace import SpanKind

from promethean.bus import PublishRequest
from promethean.errors import OverloadedError, PrometheanError
from promethean.frames import broker as bf
from promethean.frames.codes import ErrorCode
from promethean.runtime.health import StoreHealth
from promethean.runtime.tracing import span_from_headers, tracer
from promethean_broker.session import HandlerTable, Session, handles

log = logging.getLogger("promethean.broker.connection")
_tracer = tracer()


class PublishIntake:
    """The publishes one connection has in flight: at most ``max_pending``
    events at once; each frame runs as its own task."""

    def __init__(
        self, session: Session, max_pending: int, store_health: StoreHealth | None
    ) -> None:
        self._session = session
        self._max_pending = max_pending
        self._pending = 0
        self._store_health = store_health

    def start(self, corr: str | int | None, requests: list[PublishRequest], *, batch: bool) -> None:
        """Refuse at once (``ERR overloaded``) when the connection's bound
        would be passed; otherwise reply when the events are durable."""
        if self._pending + len(requests) > self._max_pending:
            raise OverloadedError(
                "too many publishes in flight on this connection",
                retry_after_ms=self._session.engine.config.overload_retry_after_ms,
            )
        self._pending += len(requests)
        self._session.spawn(self._publish(corr, requests, batch=batch))

    async def _publish(
        self, corr: str | int | None, requests: list[PublishRequest], *, batch: bool
    ) -> None:
        session = self._session
        engine = session.engine
        first = requests[0]
        try:
            with span_from_headers(
                _tracer,
                f"publish {first.topic}",
                first.headers,
                {
                    "messaging.destination.name": first.topic,
                    "messaging.batch.message_count": len(requests),
                },
                kind=SpanKind.SERVER,
            ):
                results = await (
                    engine.publish_each(requests) if batch else engine.publish(requests)
                )
        except PrometheanError as err:
            if err.code == ErrorCode.STORE_UNAVAILABLE and self._store_health is not None:
                self._store_health.failed(f"publish failed: {err.msg}")
            session.send_error(err, corr)
            return
        except Exception:
            log.exception("publish failed", extra={"conn": session.consumer_id})
            session.send_error(
                PrometheanError("publish failed", code=ErrorCode.STORE_UNAVAILABLE), corr
            )
            return
        finally:
            self._pending -= len(requests)
        if self._store_health is not None:
            self._store_health.succeeded(settled=True)
        if batch:
            session.send(
                bf.PublishedBatch(
                    corr=corr,
                    results=[
                        bf.ItemError(code=res.code, msg=res.msg)
                        if isinstance(res, PrometheanError)
                        else bf.PublishedItem(
                            topic=req.topic,
                            partition=res.partition,
                            offset=res.offset,
                            id=res.id,
                            duplicate=res.duplicate,
                        )
                        for req, res in zip(requests, results, strict=True)
                    ],
                )
            )
            return
        res = results[0]
        if isinstance(res, PrometheanError):
            session.send_error(res, corr)
            return
        session.send(
            bf.Published(
                corr=corr,
                topic=first.topic,
                partition=res.partition,
                offset=res.offset,
                id=res.id,
                duplicate=res.duplicate,
            )
        )


class PublishingSession(Session, Protocol):
    publishes: PublishIntake


def publish_request(topic: str, item: bf.Publish | bf.PublishItem) -> PublishRequest:
    return PublishRequest(
        topic=topic,
        payload=bytes(item.payload),
        key=item.key,
        headers=item.headers,
        id=item.id,
        caused_by=item.caused_by,
        tags=item.tags,
        sid=item.sid,
    )


async def on_publish(session: PublishingSession, frame: bf.Publish) -> None:
    session.publishes.start(frame.corr, [publish_request(frame.topic, frame)], batch=False)


async def on_publish_batch(session: PublishingSession, frame: bf.PublishBatch) -> None:
    session.publishes.start(
        frame.corr, [publish_request(item.topic, item) for item in frame.items], batch=True
    )


PUBLISH_HANDLERS: HandlerTable = dict(
    [handles(bf.Publish, on_publish), handles(bf.PublishBatch, on_publish_batch)]
)
