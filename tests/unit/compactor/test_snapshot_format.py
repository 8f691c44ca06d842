"""The snapshot record: round trip, chunking, deterministic ids, rebuilding."""

from __future__ import annotations

import msgspec

from promethean_compactor import snapshot_format as fmt


def _entry(i: int, size: int = 10) -> fmt.Entry:
    return fmt.Entry(0, i, f"k{i}", msgspec.Raw(msgspec.json.encode("x" * size)))


def test_records_round_trip_with_their_kind() -> None:
    chunk = fmt.Chunk("s1", "t", 0, [_entry(1)])
    manifest = fmt.Manifest("s1", "t", {"0": 5}, chunks=1, keys=1, first_offset=3, ts=1)
    assert fmt.decode(fmt.encode(chunk)) == chunk
    assert fmt.decode(fmt.encode(manifest)) == manifest
    assert b'"kind":"manifest"' in fmt.encode(manifest)


def test_chunks_stay_under_the_byte_limit() -> None:
    entries = [_entry(i, 1000) for i in range(50)]
    chunks = list(fmt.chunked(entries, 8 * 1024))
    assert len(chunks) > 1
    assert [e for c in chunks for e in c] == entries
    for chunk in chunks:
        assert len(fmt.encode(fmt.Chunk("s", "t", 0, chunk))) <= 8 * 1024


def test_snapshot_id_depends_only_on_topic_and_offsets() -> None:
    assert fmt.snapshot_id("t", {0: 5, 1: 7}) == fmt.snapshot_id("t", {1: 7, 0: 5})
    assert fmt.snapshot_id("t", {0: 5}) != fmt.snapshot_id("t", {0: 6})
    assert fmt.snapshot_id("t", {0: 5}) != fmt.snapshot_id("u", {0: 5})


def test_reader_keeps_only_its_snapshot_and_knows_when_complete() -> None:
    manifest = fmt.Manifest("s1", "t", {"0": 9}, chunks=2, keys=2, first_offset=0, ts=1)
    reader = fmt.SnapshotReader(manifest)
    reader.feed(fmt.encode(fmt.Chunk("old", "t", 0, [_entry(7)])))
    reader.feed(fmt.encode(fmt.Chunk("s1", "t", 0, [_entry(1)])))
    assert not reader.complete
    reader.feed(fmt.encode(fmt.Chunk("s1", "t", 1, [_entry(2)])))
    reader.feed(fmt.encode(manifest))
    assert reader.complete
    assert set(reader.state) == {"k1", "k2"}
    assert reader.covers(0, 9)
    assert not reader.covers(0, 10)
    assert not reader.covers(1, 0)
