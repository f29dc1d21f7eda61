"""What an attempt counts: :class:`Figures` over the worker's Prometheus metrics, or
:class:`NoFigures` where nobody reads them (tests, tools), so the attempt never asks which."""

from __future__ import annotations

from typing import Protocol

from notifier.metrics import DeliveryMetrics
from notifier.models import Channel


class Counts(Protocol):
    def attempt(self, channel: Channel, outcome: str) -> None: ...
    def rate_limit_wait(self, channel: Channel) -> None: ...
    def call(self, channel: Channel, seconds: float) -> None: ...
    def late(self, seconds: float) -> None: ...


class NoFigures:
    def attempt(self, channel: Channel, outcome: str) -> None:
        pass

    def rate_limit_wait(self, channel: Channel) -> None:
        pass

    def call(self, channel: Channel, seconds: float) -> None:
        pass

    def late(self, seconds: float) -> None:
        pass


class Figures:
    def __init__(self, metrics: DeliveryMetrics) -> None:
        self.metrics = metrics

    def attempt(self, channel: Channel, outcome: str) -> None:
        self.metrics.attempts.labels(channel.value, outcome).inc()

    def rate_limit_wait(self, channel: Channel) -> None:
        self.metrics.rate_limit_waits.labels(channel.value).inc()

    def call(self, channel: Channel, seconds: float) -> None:
        self.metrics.call_duration.labels(channel.value).observe(seconds)

    def late(self, seconds: float) -> None:
        self.metrics.lateness.observe(seconds)


def counts(metrics: DeliveryMetrics | None) -> Counts:
    return NoFigures() if metrics is None else Figures(metrics)
