"""Named leases with fencing tokens, held in memory.

A lease is live while ``now_ms < expires_at_ms``. The token only grows: it
moves to ``token + 1`` whenever a different holder takes the lease, so a
write fenced with an older token can always be told apart.
"""

from __future__ import annotations

from promethean.errors import FencedError
from promethean.store.records import Fence, Lease

FENCED = "lease {name!r} is held with token {current}; a write fenced with token {given} is refused"
NO_LEASE = "lease {name!r} does not exist; a write fenced with token {given} is refused"

RELEASED_EXPIRY_MS = 0


class LeaseTable:
    def __init__(self) -> None:
        self._leases: dict[str, Lease] = {}

    def acquire(self, name: str, holder: str, ttl_ms: int, now_ms: int) -> Lease | None:
        current = self._leases.get(name)
        if current is None:
            token = 1
        elif current.holder == holder:
            token = current.token
        elif now_ms >= current.expires_at_ms:
            token = current.token + 1
        else:
            return None
        lease = self._leases[name] = Lease(name, holder, token, now_ms + ttl_ms)
        return lease

    def renew(self, name: str, holder: str, token: int, ttl_ms: int, now_ms: int) -> Lease | None:
        current = self._leases.get(name)
        if current is None or current.holder != holder or current.token != token:
            return None
        lease = self._leases[name] = Lease(name, holder, token, now_ms + ttl_ms)
        return lease

    def release(self, name: str, holder: str, token: int) -> bool:
        current = self._leases.get(name)
        if current is None or current.holder != holder or current.token != token:
            return False
        self._leases[name] = Lease(name, holder, token, RELEASED_EXPIRY_MS)
        return True

    def get(self, name: str) -> Lease | None:
        return self._leases.get(name)

    def check_fence(self, fence: Fence) -> None:
        """Raise `FencedError` unless lease ``fence.name`` carries ``fence.token``."""
        current = self._leases.get(fence.name)
        if current is None:
            raise FencedError(NO_LEASE.format(name=fence.name, given=fence.token))
        if current.token != fence.token:
            raise FencedError(
                FENCED.format(name=fence.name, current=current.token, given=fence.token)
            )

    def __len__(self) -> int:
        return len(self._leases)
