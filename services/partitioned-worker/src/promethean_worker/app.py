"""The worker application: health and metrics routes plus ``/assignment``,
with the `WorkerRuntime` started and closed by the app's lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from promethean.runtime.http import json_response, service_routes
from promethean_worker.runtime import WorkerRuntime

RUNTIME_KEY = web.AppKey("runtime", WorkerRuntime)


def assignment_body(runtime: WorkerRuntime) -> dict[str, Any]:
    intake = runtime.intake
    topics: dict[str, Any] = {}
    if intake is not None:
        for topic, state in intake.topics.items():
            topics[topic] = {
                "owned": sorted(state.owned),
                "generation": state.generation,
                "rebalances": state.rebalances,
            }
    dispatcher = runtime.dispatcher
    return {
        "instance_id": runtime.settings.instance_id,
        "group": runtime.settings.group,
        "partitioned": intake.partitioned if intake is not None else None,
        "topics": topics,
        "processed": dispatcher.processed if dispatcher is not None else 0,
        "inflight": dispatcher.inflight if dispatcher is not None else 0,
    }


async def assignment(request: web.Request) -> web.Response:
    return json_response(assignment_body(request.app[RUNTIME_KEY]))


def create_app(runtime: WorkerRuntime) -> web.Application:
    app = web.Application()
    app[RUNTIME_KEY] = runtime

    async def lifespan(app: web.Application) -> AsyncIterator[None]:
        await runtime.start()
        yield
        await runtime.close()

    app.cleanup_ctx.append(lifespan)
    app.add_routes(
        [
            *service_routes(runtime.registry, runtime.health.progress, runtime.health.readiness),
            web.get("/assignment", assignment),
        ]
    )
    return app
