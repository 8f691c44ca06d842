"""How often and how soon a publish refused with ``ERR not_owner`` is sent
again (to the owner the error named, or after refreshing the routes), and
the typed error once it gives up. The id never changes between attempts, so
a publish that did land before a partition moved is answered ``duplicate``.
"""

from __future__ import annotations

import random
from typing import Final

from promethean.errors import NotOwnerError

MAX_REROUTES: Final = 6
"""``not_owner`` answers one publish may get before it fails."""
REROUTE_BASE_S: Final = 0.02
REROUTE_MAX_S: Final = 1.0
MSG_GAVE_UP: Final = "publish of {id} to {topic!r}: no owner accepted it after {tries} tries"


def gives_up(reroutes: int) -> bool:
    """Whether a publish refused ``reroutes`` times is failed, not resent."""
    return reroutes > MAX_REROUTES


def reroute_delay_s(reroutes: int) -> float:
    """Jittered exponential backoff before resending a publish refused
    ``reroutes`` times: none after the first refusal (the error usually
    names the new owner), then ``REROUTE_BASE_S · 2ⁿ`` capped at
    `REROUTE_MAX_S` while a partition moves."""
    if reroutes <= 1:
        return 0.0
    cap = min(REROUTE_MAX_S, REROUTE_BASE_S * 2.0 ** (reroutes - 1))
    return cap * random.uniform(0.5, 1.0)


def gave_up_error(event_id: str, topic: str, reroutes: int) -> NotOwnerError:
    return NotOwnerError(MSG_GAVE_UP.format(id=event_id, topic=topic, tries=reroutes))
