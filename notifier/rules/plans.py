"""What planning decides for one event: messages to schedule, cancellations, rules skipped.

Made by the engine only (:func:`notifier.rules.engine.plan`), read by the store: plain
dataclasses, as pydantic's validation of what code built was a tenth of planning an
event's time.
"""

from __future__ import annotations

from dataclasses import dataclass

from notifier.models import PlannedMessage


@dataclass(frozen=True, slots=True, kw_only=True)
class Cancellation:
    """Pending messages of ``tenant`` on ``subject`` to cancel: all, or those of ``rule``."""

    tenant: str = ""
    subject: str
    rule: str | None = None
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Skipped:
    rule: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """What the rules engine decided for one event: pure data, nothing stored yet."""

    messages: tuple[PlannedMessage, ...] = ()
    cancellations: tuple[Cancellation, ...] = ()
    skipped: tuple[Skipped, ...] = ()
