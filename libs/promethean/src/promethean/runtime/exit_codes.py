"""How a service's process ends, one constant per reason.

Kubernetes shows the code in the pod status; docs/operations.md lists them.
"""

from __future__ import annotations

from typing import Final

from promethean.settings.loading import EXIT_BAD_SETTING

EXIT_OK: Final = 0
"""Stopped by SIGTERM/SIGINT and drained."""
EXIT_FAILED: Final = 1
"""A part of the service failed for good (it could not start, its main loop died)."""
EXIT_DISCONNECTED: Final = 70
"""The broker/store was unreachable longer than allowed, or the store lease was lost."""
EXIT_STALLED: Final = 71
"""A work loop made no progress longer than allowed."""

__all__ = ["EXIT_BAD_SETTING", "EXIT_DISCONNECTED", "EXIT_FAILED", "EXIT_OK", "EXIT_STALLED"]
