"""Two compactor processes on one store: one leads, the other stands by and
takes over after the leader is SIGKILLed, within the lease TTL plus margin."""

from __future__ import annotations

import time
from pathlib import Path

from tests.integration.compactor.conftest import CompactorFactory, wait_until

TTL_S = 1.5
MARGIN_S = 4.0
"""One renewal period (TTL/3) plus scheduling slack on a shared machine."""


def test_one_leader_and_takeover_after_sigkill(
    compactor_process: CompactorFactory, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/bus.db"
    first = compactor_process(url, name="alpha")
    wait_until(lambda: first.leading, 10, "the first compactor never led")
    second = compactor_process(url, name="beta")
    time.sleep(TTL_S)  # several renewal periods: the standby must stay a standby
    assert first.leading
    assert not second.leading
    # A standby serves nothing by design, yet it is healthy: Ready, so
    # rollouts and GitOps tools see the release as healthy.
    status, body = second.get("/healthz/ready")
    assert (status, body["ready"]) == (200, True)
    assert second.metric("promethean_compactor_leader") == 0
    assert first.metric("promethean_compactor_leader") == 1

    first.kill()
    killed_at = time.monotonic()
    wait_until(lambda: second.leading, TTL_S + MARGIN_S, "the standby did not take over in time")
    took = time.monotonic() - killed_at
    assert took <= TTL_S + MARGIN_S
    assert second.metric("promethean_compactor_lease_token") == 2, "a takeover raises the token"


def test_sigterm_hands_the_lease_over_at_once(
    compactor_process: CompactorFactory, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/bus.db"
    env = {"PROMETHEAN_COMPACTOR_LEASE_TTL_MS": "9000"}
    first = compactor_process(url, env, name="alpha")
    wait_until(lambda: first.leading, 10, "the first compactor never led")
    second = compactor_process(url, env, name="beta")
    assert first.terminate() == 0
    # Without the release the standby would wait out the 9 s TTL.
    wait_until(lambda: second.leading, 7, "the standby did not lead after a clean stop")
