"""Names shared by the library, the outbox-drainer service and ``promethean dev``."""

from __future__ import annotations

from typing import Final

DLQ_TOPIC: Final = "outbox.DLQ"
"""Where the drainer sends a row it gave up on (with the reason)."""
DEFAULT_DRAINER_PORT: Final = 7071
"""HTTP port of the drainer (``/metrics``, ``/healthz/*``)."""
DRAINER_PORT_VAR: Final = "PROMETHEAN_OUTBOX_DRAINER_PORT"
