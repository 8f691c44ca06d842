"""Handlers ``promethean-worker`` runs: the contract every handler follows
and the built-in projectors (heartbeat → process state, changelog → view)."""

from promethean.projectors.contract import (
    FunctionHandler,
    HandlerContext,
    HandlerSpec,
    PartitionHandler,
    function_spec,
    handles,
)

__all__ = [
    "FunctionHandler",
    "HandlerContext",
    "HandlerSpec",
    "PartitionHandler",
    "function_spec",
    "handles",
]
