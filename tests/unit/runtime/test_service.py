"""`serve(app, kit, settings)`: until stopped, then readiness false, the
service's drain, then the app's cleanup."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from aiohttp import web

from promethean.runtime.assembly import service_app
from promethean.runtime.exit_codes import EXIT_DISCONNECTED
from promethean.runtime.kit import service_kit
from promethean.runtime.service import serve
from promethean.settings import CommonSettings


@dataclass(frozen=True)
class Settings:
    common: CommonSettings
    port: int = 0


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.kit = service_kit(settings.common, depends_on="store")
        self.started = asyncio.Event()
        self.closed = asyncio.Event()

    async def start(self) -> None:
        self.started.set()

    async def close(self) -> None:
        self.closed.set()


KEY = web.AppKey("runtime", Runtime)


def settings(drain_ms: int = 5_000) -> Settings:
    """A cap past the drain (a drain past the cap: ``test_main``)."""
    common = CommonSettings(service="probe", host="127.0.0.1", drain_ms=drain_ms, gc_freeze_ms=0)
    return Settings(common)


async def test_a_stop_drains_after_readiness_went_false(capsys: pytest.CaptureFixture[str]) -> None:
    config = settings()
    runtime = Runtime(config)
    app = service_app(runtime, KEY)
    seen: list[bool] = []

    async def drain() -> None:
        seen.append(runtime.kit.readiness.ready)

    runtime.kit.drain = drain
    serving = asyncio.create_task(serve(app, runtime.kit, config))
    await asyncio.wait_for(runtime.started.wait(), 5)
    runtime.kit.stop(EXIT_DISCONNECTED)
    assert await asyncio.wait_for(serving, 5) == EXIT_DISCONNECTED
    assert seen == [False]
    assert runtime.closed.is_set()
    assert "probe listening on http://127.0.0.1:0 (" in capsys.readouterr().err
