"""The service kit: one factory builds the parts every service runs with."""

from __future__ import annotations

from promethean.runtime.exit_codes import EXIT_DISCONNECTED, EXIT_STALLED
from promethean.runtime.kit import WATCHDOG_CHECK_MAX_MS, service_kit
from promethean.settings import CommonSettings


def test_the_kit_is_built_from_the_common_settings() -> None:
    common = CommonSettings(service="compactor", heartbeat_ms=700, disconnect_kill_ms=5_000)
    kit = service_kit(common, depends_on="store")
    assert kit.name == "compactor"
    assert kit.heartbeat_ms == 700
    assert kit.dependency.name == "store"
    assert kit.progress.max_stall_ms == common.liveness_max_stall_ms
    assert kit.lifecycle.readiness is kit.readiness
    assert (kit.scheme, kit.detail, kit.drain) == ("http", "", None)
    assert len(kit.tasks) == 0


def test_each_service_gets_parts_of_its_own() -> None:
    common = CommonSettings(service="gateway")
    one, other = (service_kit(common, depends_on="broker") for _ in range(2))
    assert one.registry is not other.registry
    assert one.readiness is not other.readiness


def test_the_watchdog_judges_the_kits_dependency_and_progress() -> None:
    kit = service_kit(
        CommonSettings(service="worker", disconnect_kill_ms=1_000), depends_on="broker"
    )
    kit.dependency.up()
    assert kit.watchdog.verdict() is None
    kit.dependency.down()
    kit.dependency._down_since -= 2  # type: ignore[operator]
    assert kit.watchdog.verdict() == EXIT_DISCONNECTED
    kit.dependency.up()
    kit.progress._last -= kit.progress.max_stall_ms / 1000 + 1
    assert kit.watchdog.verdict() == EXIT_STALLED
    kit.pause_watchdog()
    assert kit.watchdog.verdict() is None


def test_the_watchdog_looks_four_times_per_stall_limit_at_most_every_250_ms() -> None:
    fast = service_kit(CommonSettings(service="w", liveness_max_stall_ms=400), depends_on="b")
    slow = service_kit(CommonSettings(service="w"), depends_on="b")
    assert fast.watchdog._check_every_ms == 100
    assert slow.watchdog._check_every_ms == WATCHDOG_CHECK_MAX_MS


def test_the_first_stop_sets_the_exit_code() -> None:
    kit = service_kit(CommonSettings(service="broker"), depends_on="store")
    kit.stop(EXIT_DISCONNECTED)
    kit.stop(0)
    assert kit.lifecycle.stopping.is_set()
    assert kit.lifecycle.exit_code == EXIT_DISCONNECTED


def test_heartbeat_stats_take_progress_and_job_time_from_the_kit() -> None:
    kit = service_kit(CommonSettings(service="worker"), depends_on="broker")
    kit.timer.observe(12.0)
    stats = kit.heartbeat_stats(connected=True, queue=3, inflight=2)
    assert (stats.connected, stats.queue, stats.inflight) == (True, 3, 2)
    assert stats.last_progress_ts == kit.progress.last_wall_ms
    assert stats.avg_job_ms == 12.0


def test_heartbeat_stats_may_report_another_timer() -> None:
    kit = service_kit(CommonSettings(service="gateway"), depends_on="broker")
    other = type(kit.timer)()
    other.observe(4.0)
    assert kit.heartbeat_stats(connected=False, timer=other).avg_job_ms == 4.0
