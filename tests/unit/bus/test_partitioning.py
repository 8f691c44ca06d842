"""Jump consistent hash and the key → partition rule."""

from __future__ import annotations

from collections import Counter

import pytest

from promethean.partitioning import fnv1a64, jump_hash, partition_for


@pytest.mark.parametrize(
    ("data", "expected"),
    [(b"", 0xCBF29CE484222325), (b"a", 0xAF63DC4C8601EC8C), (b"foobar", 0x85944171F73967E8)],
)
def test_fnv1a64_reference_vectors(data: bytes, expected: int) -> None:
    assert fnv1a64(data) == expected


@pytest.mark.parametrize(
    ("key", "buckets", "expected"),
    [(1, 1, 0), (42, 57, 43), (0xDEAD10CC, 1, 0), (0xDEAD10CC, 666, 361), (256, 1024, 520)],
)
def test_jump_hash_reference_vectors(key: int, buckets: int, expected: int) -> None:
    """Vectors from the test suite of the widely used Go port (go-jump)."""
    assert jump_hash(key, buckets) == expected


def test_jump_hash_refuses_no_buckets() -> None:
    with pytest.raises(ValueError, match="positive"):
        jump_hash(1, 0)


def test_partition_is_deterministic_and_in_range() -> None:
    for partitions in (1, 2, 7, 12, 64):
        for i in range(500):
            p = partition_for(f"key-{i}", "id-ignored", partitions)
            assert 0 <= p < partitions
            assert p == partition_for(f"key-{i}", "another-id", partitions)


def test_key_wins_over_id_and_id_is_used_without_key() -> None:
    assert partition_for(None, "evt-1", 12) == partition_for("evt-1", "whatever", 12)
    spread = {partition_for(None, f"evt-{i}", 12) for i in range(200)}
    assert len(spread) == 12


def test_unicode_keys_hash_their_utf8_bytes() -> None:
    key = "clé-ü-日本"
    assert partition_for(key, "x", 97) == jump_hash(fnv1a64(key.encode("utf-8")), 97)


@pytest.mark.parametrize("partitions", [4, 12, 31])
def test_keys_spread_evenly(partitions: int) -> None:
    keys = 24_000
    counts = Counter(partition_for(f"user-{i}", "x", partitions) for i in range(keys))
    mean = keys / partitions
    assert set(counts) == set(range(partitions))
    assert max(counts.values()) < mean * 1.15
    assert min(counts.values()) > mean * 0.85


@pytest.mark.parametrize("partitions", [1, 5, 12, 50])
def test_growing_by_one_moves_only_keys_to_the_new_partition(partitions: int) -> None:
    keys = [f"order-{i}" for i in range(20_000)]
    before = {k: partition_for(k, "x", partitions) for k in keys}
    after = {k: partition_for(k, "x", partitions + 1) for k in keys}
    moved = [k for k in keys if before[k] != after[k]]
    assert all(after[k] == partitions for k in moved), "moved keys all go to the new partition"
    expected = len(keys) / (partitions + 1)
    assert expected * 0.85 < len(moved) < expected * 1.15


def test_growing_several_steps_keeps_most_keys() -> None:
    keys = [f"k{i}" for i in range(10_000)]
    moved = sum(partition_for(k, "x", 8) != partition_for(k, "x", 12) for k in keys)
    # Only ~1 - 8/12 of the keys may move (a modulo hash would move ~2/3 too,
    # but to arbitrary partitions; jump hash moves them to 8..11 only).
    assert moved < len(keys) * (1 - 8 / 12) * 1.1
    assert all(
        partition_for(k, "x", 12) >= 8
        for k in keys
        if partition_for(k, "x", 8) != partition_for(k, "x", 12)
    )


def _textbook_fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


@pytest.mark.parametrize("size", [0, 1, 8, 32, 36, 200, 1024])
def test_fnv1a64_reduced_once_equals_the_textbook_loop(size: int) -> None:
    data = bytes((i * 151 + 7) % 256 for i in range(size))
    assert fnv1a64(data) == _textbook_fnv1a64(data)


def test_placement_is_the_hash_of_the_key_or_id_cached_or_not() -> None:
    for partitions in (1, 2, 12, 64):
        for i in range(300):
            key, event_id = f"user-{i % 40}", f"evt-{i}"
            by_key = jump_hash(_textbook_fnv1a64(key.encode()), partitions)
            by_id = jump_hash(_textbook_fnv1a64(event_id.encode()), partitions)
            assert partition_for(key, event_id, partitions) == by_key
            assert partition_for(None, event_id, partitions) == by_id


def test_one_partition_never_needs_the_hash() -> None:
    assert all(jump_hash(_textbook_fnv1a64(f"k{i}".encode()), 1) == 0 for i in range(1000))
    assert partition_for("any", "id", 1) == 0


def test_no_partitions_is_still_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        partition_for(None, "id", 0)
    with pytest.raises(ValueError, match="positive"):
        partition_for("key", "id", 0)
