"""The pure parts of bench/peers.py: payload size, percentiles, medians, the
table and the target ratios (the benchmark itself is run by hand)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import msgspec
import pytest

PEERS_PY = Path(__file__).resolve().parents[3] / "bench" / "peers.py"


@pytest.fixture(scope="module")
def peers() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_peers", PEERS_PY)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through it
    spec.loader.exec_module(module)
    return module


def test_payload_is_200_bytes_whatever_the_timestamp(peers: ModuleType) -> None:
    for sent_ns in (0, 123_456_789, 9_999_999_999_999_999_999):
        assert len(msgspec.json.encode(peers.payload(49_999, sent_ns))) == 200


def test_percentile_is_nearest_rank(peers: ModuleType) -> None:
    values = [float(v) for v in range(1, 101)]
    assert peers.percentile(values, 0.5) == 50.0
    assert peers.percentile(values, 0.99) == 99.0
    assert peers.percentile([7.0], 0.99) == 7.0
    with pytest.raises(ValueError, match="no values"):
        peers.percentile([], 0.5)


def figures(peers: ModuleType) -> list[object]:
    rows = [
        ("redis-always", "w1 msg/s", [4_000.0, 5_000.0, 6_000.0]),
        ("promethean", "w1 msg/s", [1_000.0, 9_000.0, 2_000.0]),
        ("nats", "w3 p50 ms", [0.2, 0.3, 0.25]),
        ("promethean", "w3 p50 ms", [0.6, 0.4, 0.5]),
        ("promethean", "w1 cpu us", [50.0, 70.0, 80.0]),
    ]
    return [
        peers.Figure(peer, metric, value, run, 1.0)
        for peer, metric, values in rows
        for run, value in enumerate(values, start=1)
    ]


def test_medians_per_peer_and_metric(peers: ModuleType) -> None:
    table = peers.medians(figures(peers))
    assert table[("redis-always", "w1 msg/s")] == 5_000.0
    assert table[("promethean", "w1 msg/s")] == 2_000.0
    assert table[("promethean", "w3 p50 ms")] == 0.5


def test_targets_compare_against_the_reference_peer_in_the_same_run(peers: ModuleType) -> None:
    table = peers.medians(figures(peers))
    by_label = {t.label: t for t in peers.TARGETS}
    assert by_label["W1 >= 1.0x Redis always"].check(table, "promethean") == (2_000, 5_000, False)
    # p50 0.5 ms against 2 x NATS's 0.25 ms: met, at the limit.
    assert by_label["W3 p50 <= 2x NATS p50"].check(table, "promethean") == (0.5, 0.5, True)
    assert by_label["CPU W1 <= 60 us/msg"].check(table, "promethean") == (70.0, 60.0, False)
    # No W2 figures: nothing to judge.
    assert by_label["W2 >= 1.0x Redis Streams"].check(table, "promethean") is None


def test_rendered_tables_carry_values_ratios_and_verdicts(peers: ModuleType) -> None:
    table = peers.medians(figures(peers))
    text = peers.render_table(table, ["redis-always", "promethean"], 3)
    assert "| medians of 3 | Redis always | Promethean SQLite |" in text
    assert "| W1 publish, 1 in flight, msg/s | 5,000 | 2,000 |" in text
    assert "W2" not in text  # rows without any figure are left out
    targets = peers.render_targets(table, ["promethean"])
    assert "| W1 >= 1.0x Redis always | 2,000 vs 5,000: 0.40x MISSED |" in targets
    assert "| CPU W1 <= 60 us/msg | 70.00 vs 60.00: 1.17x MISSED |" in targets
    assert "| W2 >= 1.0x Redis Streams | - |" in targets


def test_arguments_quick_defaults_and_baseline_peer(peers: ModuleType) -> None:
    args = peers.parse_args(["--quick", "--peers", "promethean-memory", "--baseline", "abc123"])
    assert args.runs == 1
    assert args.sizes == peers.QUICK
    assert args.peers == ["promethean-memory", "promethean@abc123"]
    with pytest.raises(SystemExit):
        peers.parse_args(["--peers", "kafka"])
