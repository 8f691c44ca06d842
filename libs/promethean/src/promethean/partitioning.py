"""Key → partition by jump consistent hash (Lamping & Veach).

A key hashes with 64-bit FNV-1a over its UTF-8 bytes, so every process and
every language computes the same partition. Events without a key hash their
id instead: retries of one id land on one partition, which keeps idempotent
publish a single-partition check.

Keys repeat, so their partitions are kept in a bounded LRU; ids are unique
and are hashed every time.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

_FNV_OFFSET: Final = 0xCBF29CE484222325
_FNV_PRIME: Final = 0x100000001B3
_MASK64: Final = 0xFFFFFFFFFFFFFFFF
_JUMP_MULT: Final = 2862933555777941757
KEY_CACHE_SIZE: Final = 4096
"""Distinct (key, partition count) pairs whose partition is remembered."""


def fnv1a64(data: bytes) -> int:
    # Reduced mod 2**64 once at the end: multiplication is compatible with
    # the reduction, and XOR with a byte only touches the low 8 bits, which
    # the reduction keeps, so the result is the textbook one.
    h = _FNV_OFFSET
    for byte in data:
        h = (h ^ byte) * _FNV_PRIME
    return h & _MASK64


def jump_hash(key: int, buckets: int) -> int:
    """Bucket in ``[0, buckets)`` for a 64-bit ``key``; moving from n to n+1
    buckets relocates only ~1/(n+1) of the keys."""
    if buckets <= 0:
        raise ValueError("buckets must be positive")
    b, j = -1, 0
    key &= _MASK64
    while j < buckets:
        b = j
        key = (key * _JUMP_MULT + 1) & _MASK64
        j = int((b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return b


def partition_for(key: str | None, event_id: str, partitions: int) -> int:
    """The partition of an event: its key when it has one, else its id."""
    if partitions == 1:
        return 0  # jump_hash's answer for one bucket, whatever the hash
    if key is not None:
        return _key_partition(key, partitions)
    return jump_hash(fnv1a64(event_id.encode("utf-8")), partitions)


@lru_cache(maxsize=KEY_CACHE_SIZE)
def _key_partition(key: str, partitions: int) -> int:
    return jump_hash(fnv1a64(key.encode("utf-8")), partitions)
