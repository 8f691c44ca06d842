"""The one shape of a service's app.

Each service's ``app.py`` has a runtime class (everything the service holds
while it runs, its `ServiceKit` among it, opened by ``start`` and released by
``close``), a ``create_app(settings)`` that builds the app with `service_app`,
and ``SERVICE_SPEC = ServiceSpec(<settings class>, create_app)``, which
`promethean.runtime.main.run_service` starts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from aiohttp import web
from aiohttp.typedefs import Middleware

from promethean.runtime.health_routes import health_routes
from promethean.runtime.kit import KIT_KEY, ServiceKit
from promethean.settings import CommonSettings
from promethean.settings.loading import SettingsFactory

DEFAULT_CLIENT_MAX_SIZE = 1024**2
"""aiohttp's own limit on a request body."""


class ServiceRuntime(Protocol):
    @property
    def kit(self) -> ServiceKit: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class ServiceSettings(Protocol):
    """What `serve` reads from every service's settings."""

    @property
    def common(self) -> CommonSettings: ...

    @property
    def port(self) -> int: ...


R = TypeVar("R", bound=ServiceRuntime)
S = TypeVar("S", bound=ServiceSettings)


def service_app(
    runtime: R,
    key: web.AppKey[R],
    *,
    health: Iterable[web.RouteDef] | None = None,
    client_max_size: int = DEFAULT_CLIENT_MAX_SIZE,
    middlewares: Iterable[Middleware] = (),
) -> web.Application:
    """An app holding ``runtime`` at ``key`` and its kit at `KIT_KEY`, whose
    lifespan starts the runtime and closes it, serving ``health`` (by
    default the kit's `health_routes`); the service adds its own routes."""
    app = web.Application(client_max_size=client_max_size, middlewares=middlewares)
    app[key] = runtime
    app[KIT_KEY] = runtime.kit
    app.add_routes(health_routes(runtime.kit) if health is None else health)

    async def lifespan(app: web.Application) -> AsyncIterator[None]:
        await runtime.start()
        yield
        await runtime.close()

    app.cleanup_ctx.append(lifespan)
    return app


@dataclass(frozen=True)
class ServiceSpec(Generic[S]):
    """How `run_service` builds a service: its settings class and app factory."""

    settings: SettingsFactory[S]
    create_app: Callable[[S], web.Application]

    @property
    def name(self) -> str:
        return self.settings.SERVICE
