"""The contiguous low watermark of a consumer group on one partition.

``committed`` is the highest offset C such that every offset ≤ C is done
(acked, filtered out or dead-lettered). Offsets finished out of order wait in
a set until the gap below them closes. Offsets never stored (removed by
compaction) are declared done by the reader as it skips them.
"""

from __future__ import annotations


class AckWatermark:
    __slots__ = ("_committed", "_done_above")

    def __init__(self, committed: int) -> None:
        self._committed = committed
        self._done_above: set[int] = set()

    @property
    def committed(self) -> int:
        return self._committed

    @property
    def held(self) -> int:
        """How many finished offsets wait for a gap below them to close."""
        return len(self._done_above)

    def is_done(self, offset: int) -> bool:
        return offset <= self._committed or offset in self._done_above

    def mark_done(self, offset: int) -> bool:
        """Record ``offset`` as done; True when the watermark moved."""
        if offset <= self._committed or offset in self._done_above:
            return False
        if offset != self._committed + 1:
            self._done_above.add(offset)
            return False
        nxt = offset + 1
        done = self._done_above
        while nxt in done:
            done.discard(nxt)
            nxt += 1
        self._committed = nxt - 1
        return True

    def mark_range_done(self, first: int, last: int) -> bool:
        """Mark every offset in ``[first, last]`` done (a gap left by
        compaction or retention). O(held) when the range touches the
        watermark, however long it is."""
        if last <= self._committed:
            return False
        if first > self._committed + 1:
            for offset in range(first, last + 1):
                self._done_above.add(offset)
            return False
        nxt = last + 1
        done = self._done_above
        while nxt in done:
            nxt += 1
        self._committed = nxt - 1
        if done:
            self._done_above = {o for o in done if o > self._committed}
        return True
