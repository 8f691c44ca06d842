"""The worker's parts without processes: settings, handler resolution, the
dispatcher and intake on the mock broker, and the progress rule."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from prometheus_client import CollectorRegistry

from promethean.client.types import Message
from promethean.errors import SettingsError
from promethean.projectors import HandlerSpec, handles
from promethean.projectors.heartbeat import project as heartbeat_project
from promethean.runtime.health import JobTimer, Progress
from promethean.runtime.kit import service_kit
from promethean.settings import CommonSettings
from promethean.testing import InMemoryBroker
from promethean_worker.dispatch import BoundHandler, Dispatcher
from promethean_worker.intake import Intake
from promethean_worker.metrics import WorkerMetrics
from promethean_worker.monitor import WorkerMonitor
from promethean_worker.registry import resolve, resolve_all
from promethean_worker.settings import HandlerEntry, WorkerSettings, parse_handlers

handled: list[int] = []


@handles("orders")
async def on_order(message: Message) -> None:
    handled.append(message.offset)


async def plain(message: Message) -> None:
    handled.append(message.offset)


not_a_handler = 42
HERE = "tests.integration.worker.test_worker_parts"


# -- settings -------------------------------------------------------------------


def test_handler_entries_parse_targets_and_topics() -> None:
    assert parse_handlers(" heartbeat-projector , pkg.mod:obj.attr@a|b.c ") == (
        HandlerEntry("heartbeat-projector"),
        HandlerEntry("pkg.mod:obj.attr", ("a", "b.c")),
    )


@pytest.mark.parametrize("value", [",", "pkg.mod:", "pkg mod:x", "pkg.mod:x@", "x@$bad", "a:b@|"])
def test_bad_handler_entries_name_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match="PROMETHEAN_WORKER_HANDLERS"):
        parse_handlers(value)


def test_settings_defaults_follow_the_environment() -> None:
    settings = WorkerSettings.from_env({"BUS_PORT": "7171", "PROMETHEAN_INSTANCE_ID": "pod-0"})
    assert settings.bus_url == "ws://127.0.0.1:7171/ws"
    assert settings.broker_http_url == "http://127.0.0.1:7171"
    assert settings.instance_id == "pod-0"
    assert settings.handlers == (HandlerEntry("heartbeat-projector"),)
    assert settings.group == "promethean-worker"
    secure = WorkerSettings.from_env({"BUS_URL": "wss://bus.internal:9000/ws"})
    assert secure.broker_http_url == "https://bus.internal:9000"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PROMETHEAN_INSTANCE_ID", "-pod"),
        ("PROMETHEAN_WORKER_GROUP", "a group"),
        ("PROMETHEAN_WORKER_TOPICS", "ok,$where"),
        ("BUS_URL", "http://broker:7070"),
        ("PROMETHEAN_WORKER_PORT", "0"),
    ],
)
def test_bad_settings_name_their_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        WorkerSettings.from_env({variable: value})


def test_a_bad_setting_stops_the_worker_with_one_line() -> None:
    env = {"PROMETHEAN_WORKER_HANDLERS": "no.such.module:handle", "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-m", "promethean_worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("worker: invalid setting: PROMETHEAN_WORKER_HANDLERS=")


# -- resolution -------------------------------------------------------------------


def test_builtin_names_and_module_paths_resolve() -> None:
    by_name = resolve(HandlerEntry("heartbeat-projector"), ())
    assert by_name.spec is heartbeat_project
    assert by_name.topics == ("heartbeat.received",)
    by_path = resolve(HandlerEntry("promethean.projectors.changelog:project", ("orders",)), ())
    assert (by_path.spec.name, by_path.topics) == ("changelog-projector", ("orders",))


def test_topics_come_from_the_entry_then_the_handler_then_the_default() -> None:
    decorated = resolve(HandlerEntry(f"{HERE}:on_order"), ("fallback",))
    assert isinstance(decorated.spec, HandlerSpec)
    assert decorated.topics == ("orders",)
    assert resolve(HandlerEntry(f"{HERE}:on_order", ("x",)), ()).topics == ("x",)
    assert resolve(HandlerEntry(f"{HERE}:plain"), ("fallback",)).topics == ("fallback",)
    with pytest.raises(SettingsError, match="PROMETHEAN_WORKER_TOPICS"):
        resolve(HandlerEntry(f"{HERE}:plain"), ())


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("no.such.module:x", "importable module"),
        (f"{HERE}:missing", "has no attribute"),
        (f"{HERE}:not_a_handler", "HandlerSpec or an async function"),
        ("no-such-entry-point", "entry points"),
    ],
)
def test_unresolvable_handlers_are_bad_settings(target: str, why: str) -> None:
    with pytest.raises(SettingsError, match=why):
        resolve(HandlerEntry(target, ("t",)), ())


def test_a_handler_named_twice_is_refused() -> None:
    settings = WorkerSettings(
        handlers=(HandlerEntry("heartbeat-projector"), HandlerEntry("heartbeat-projector"))
    )
    with pytest.raises(SettingsError, match="each handler named once"):
        resolve_all(settings)


# -- dispatch and intake on the mock broker ----------------------------------------


class Recorder:
    def __init__(self, fail_on: int | None = None) -> None:
        self.offsets: dict[int, list[int]] = {}
        self.assigned: list[frozenset[int]] = []
        self.revoked: list[frozenset[int]] = []
        self.closed = False
        self.fail_on = fail_on

    async def handle(self, message: Message) -> None:
        if message.payload == self.fail_on and message.attempt == 1:
            raise RuntimeError("first attempt fails")
        self.offsets.setdefault(message.partition, []).append(message.offset)

    async def on_assigned(self, topic: str, partitions: frozenset[int]) -> None:
        self.assigned.append(partitions)

    async def on_revoked(self, topic: str, partitions: frozenset[int]) -> None:
        self.revoked.append(partitions)

    async def close(self) -> None:
        self.closed = True


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def test_intake_runs_handlers_on_owned_partitions_and_keeps_the_books(
    bus: InMemoryBroker,
) -> None:
    registry = CollectorRegistry()
    metrics = WorkerMetrics(registry)
    first, second = Recorder(fail_on=3), Recorder()
    dispatcher = Dispatcher(
        {"jobs": [BoundHandler("first", first), BoundHandler("second", second)]},
        metrics,
        Progress(60_000),
        JobTimer(),
    )
    intake = Intake(bus, "workers", "pod-0", dispatcher, metrics, max_inflight=8, start="earliest")
    await intake.start(["jobs"])
    assert intake.partitioned
    await bus.drain()
    owned = intake.owned()["jobs"]
    assert owned, "a lone member owns every partition"
    assert first.assigned == [owned]

    for n in range(20):
        await bus.publish("jobs", n, key=f"k{n % 5}")
    await bus.drain()
    for recorder in (first, second):
        for offsets in recorder.offsets.values():
            assert offsets == sorted(offsets), "offset order per partition"
    assert sum(map(len, second.offsets.values())) == 20, "the failed one came again"
    assert (
        sample(registry, "promethean_worker_processed_total", topic="jobs", handler="second") == 20
    )
    assert sample(registry, "promethean_worker_failed_total", topic="jobs", handler="first") == 1
    assert sample(
        registry, "promethean_worker_owned_partitions", topic="jobs", group="workers"
    ) == len(owned)
    assert dispatcher.processed == 20
    assert dispatcher.inflight == 0

    await intake.stop()
    await dispatcher.close()
    assert first.revoked == [owned]
    assert first.closed
    assert second.closed


async def test_a_draining_dispatcher_gives_messages_back() -> None:
    dispatcher = Dispatcher({}, WorkerMetrics(CollectorRegistry()), Progress(1_000), JobTimer())
    dispatcher.accepting = False
    message = Message(
        topic="t", group="g", partition=0, offset=0, attempt=1, id="x", ts=0, raw_payload=b"1"
    )
    with pytest.raises(RuntimeError, match="draining"):
        await dispatcher(message)


# -- the progress rule --------------------------------------------------------------


async def test_progress_stops_while_a_handler_hangs() -> None:
    common = CommonSettings(service="worker", liveness_max_stall_ms=1_000)
    kit = service_kit(common, depends_on="broker")
    monitor = WorkerMonitor(kit, WorkerMetrics(CollectorRegistry()))
    release = asyncio.Event()

    class Hanging:
        async def handle(self, message: Message) -> None:
            await release.wait()

        async def on_assigned(self, topic: str, partitions: frozenset[int]) -> None: ...
        async def on_revoked(self, topic: str, partitions: frozenset[int]) -> None: ...
        async def close(self) -> None: ...

    dispatcher = Dispatcher(
        {"t": [BoundHandler("hanging", Hanging())]},
        WorkerMetrics(CollectorRegistry()),
        kit.progress,
        kit.timer,
    )
    message = Message(
        topic="t", group="g", partition=0, offset=0, attempt=1, id="x", ts=0, raw_payload=b"1"
    )
    running = asyncio.create_task(dispatcher(message))
    await asyncio.sleep(monitor.round_s * 3)
    monitor.observe(False, dispatcher)
    stalled = kit.progress.stalled_ms
    await asyncio.sleep(monitor.round_s * 2)
    monitor.observe(False, dispatcher)
    assert kit.progress.stalled_ms > stalled, "no tick while the handler hangs"
    assert not kit.dependency.connected
    release.set()
    await running
    monitor.observe(False, dispatcher)
    assert kit.progress.stalled_ms < 50


def test_heartbeat_stats_report_the_dispatcher() -> None:
    kit = service_kit(CommonSettings(service="worker"), depends_on="broker")
    stats = WorkerMonitor(kit, WorkerMetrics(CollectorRegistry())).heartbeat_stats(None)
    assert (stats.connected, stats.inflight) == (False, 0)
    assert stats.last_progress_ts == kit.progress.last_wall_ms
