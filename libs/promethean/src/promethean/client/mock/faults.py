"""Fault injection: what the mock does to a publish or a delivery on its way.

A `FaultPlan` holds the standing knobs (latency, ``drop_rate``) and a list of
targeted `Fault` rules, each matched by topic pattern and optional predicate.
The first active rule that matches decides; every random choice comes from
generators seeded by the broker's ``seed``, so a run can be repeated exactly.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from promethean.client.mock.config import Latency
from promethean.client.mock.patterns import topic_matches
from promethean.errors import PrometheanError
from promethean.frames.codes import ErrorCode

_decoder = msgspec.json.Decoder()

INJECTED_PUBLISH_ERROR = "publish refused by an injected fault"


class FaultStage(enum.StrEnum):
    PUBLISH = "publish"
    DELIVER = "deliver"


class FaultAction(enum.StrEnum):
    DROP = "drop"
    """deliver: lost in transit (the ack deadline brings it back).
    publish: stored, but the acknowledgement is lost (publish raises ConnectionLostError)."""
    ERROR = "error"
    """deliver: fails as if the handler raised (nacked, one attempt used).
    publish: refused, nothing stored (publish raises the fault's error)."""
    DELAY = "delay"
    """deliver: arrives ``delay_ms`` later on the fake clock.
    publish: stored at once, the acknowledgement arrives ``delay_ms`` later."""


@dataclass(frozen=True, slots=True)
class FaultTarget:
    """What a fault predicate sees: one publish or one delivery."""

    stage: FaultStage
    topic: str
    id: str
    raw_payload: bytes
    key: str | None = None
    headers: dict[str, str] | None = None
    group: str | None = None
    """The receiving group (deliveries only)."""
    attempt: int | None = None
    """The delivery attempt, from 1 (deliveries only)."""

    @property
    def payload(self) -> Any:
        return _decoder.decode(self.raw_payload)


Predicate = Callable[[FaultTarget], bool]


@dataclass(eq=False, slots=True)
class Fault:
    action: FaultAction
    topic: str = "**"
    predicate: Predicate | None = None
    stage: FaultStage = FaultStage.DELIVER
    delay_ms: int = 0
    times: int | None = None
    """Fire at most this many times; None: for as long as the fault is installed."""
    error: PrometheanError | None = None
    """The error a publish-stage ``error`` raises (default: code ``internal``).
    The real client raises a refusal only when its code is not retryable;
    retryable ones (``overloaded``, ``store_unavailable``, ...) it re-sends
    by itself until its publish timeout, then raises ConnectionLostError."""
    fired: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.action = FaultAction(self.action)
        self.stage = FaultStage(self.stage)
        if self.delay_ms < 0:
            raise ValueError("a fault's delay_ms cannot be negative")
        if self.action is FaultAction.DELAY and self.delay_ms == 0:
            raise ValueError("a delay fault needs delay_ms > 0")
        if self.times is not None and self.times < 1:
            raise ValueError("a fault's times must be at least 1 (or None)")

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def matches(self, target: FaultTarget) -> bool:
        return (
            not self.exhausted
            and target.stage is self.stage
            and topic_matches(self.topic, target.topic)
            and (self.predicate is None or self.predicate(target))
        )

    def publish_error(self) -> PrometheanError:
        if self.error is not None:
            return self.error
        return PrometheanError(INJECTED_PUBLISH_ERROR, code=ErrorCode.INTERNAL.value)


@dataclass(frozen=True, slots=True)
class DeliveryFate:
    """The plan's verdict on one delivery."""

    dropped: str | None = None
    """Why it is lost, or None when it arrives."""
    failed: str | None = None
    """Why it fails as a handler error, or None."""
    latency_ms: int = 0
    delay_ms: int = 0


class FaultPlan:
    """The faults in force on one broker; change them at any time in a test."""

    def __init__(self, *, seed: int, latency: Latency | None, drop_rate: float) -> None:
        self.latency = latency
        self.drop_rate = drop_rate
        self._faults: list[Fault] = []
        self._loss_rng = random.Random(f"{seed}:loss")
        self._latency_rng = random.Random(f"{seed}:latency")

    @property
    def rules(self) -> list[Fault]:
        return list(self._faults)

    def add(self, fault: Fault) -> Fault:
        self._faults.append(fault)
        return fault

    def drop(
        self,
        topic: str = "**",
        *,
        predicate: Predicate | None = None,
        times: int | None = None,
        stage: FaultStage = FaultStage.DELIVER,
    ) -> Fault:
        return self.add(Fault(FaultAction.DROP, topic, predicate, stage, times=times))

    def error(
        self,
        topic: str = "**",
        *,
        predicate: Predicate | None = None,
        times: int | None = None,
        stage: FaultStage = FaultStage.DELIVER,
        error: PrometheanError | None = None,
    ) -> Fault:
        return self.add(Fault(FaultAction.ERROR, topic, predicate, stage, times=times, error=error))

    def delay(
        self,
        delay_ms: int,
        topic: str = "**",
        *,
        predicate: Predicate | None = None,
        times: int | None = None,
        stage: FaultStage = FaultStage.DELIVER,
    ) -> Fault:
        return self.add(Fault(FaultAction.DELAY, topic, predicate, stage, delay_ms, times=times))

    def remove(self, fault: Fault) -> None:
        self._faults.remove(fault)

    def clear(self) -> None:
        """Remove every targeted fault and switch latency and loss off."""
        self._faults.clear()
        self.latency = None
        self.drop_rate = 0.0

    def match(self, target: FaultTarget) -> Fault | None:
        """The first active rule matching ``target``, counted as fired."""
        for fault in self._faults:
            if fault.matches(target):
                fault.fired += 1
                return fault
        return None

    def delivery_fate(self, target: FaultTarget) -> DeliveryFate:
        latency = self._sample_latency()
        fault = self.match(target)
        if fault is not None:
            if fault.action is FaultAction.DROP:
                return DeliveryFate(dropped=f"fault on {fault.topic}")
            if fault.action is FaultAction.ERROR:
                return DeliveryFate(failed=f"injected fault on {fault.topic}", latency_ms=latency)
            return DeliveryFate(latency_ms=latency, delay_ms=fault.delay_ms)
        if self.drop_rate > 0.0 and self._loss_rng.random() < self.drop_rate:
            return DeliveryFate(dropped=f"drop_rate {self.drop_rate}")
        return DeliveryFate(latency_ms=latency)

    def _sample_latency(self) -> int:
        latency = self.latency
        if latency is None or latency.max_ms == 0:
            return 0
        if latency.min_ms == latency.max_ms:
            return latency.min_ms
        return self._latency_rng.randint(latency.min_ms, latency.max_ms)
