"""The planning engine: ``plan(event, rules, now) -> Plan``, a pure function.

No I/O and no clock of its own: the same inputs always give the same plan, message ids
included (they are derived from the client, the event id and the rule), which is what makes a
retried event idempotent and the engine testable with property-based tests.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from notifier.models import Cancellation, Event, Plan, PlannedMessage, Skipped
from notifier.rules.loader import RuleSet
from notifier.rules.schema import Immediately, Offset, Rule, Timing


class EventDataError(ValueError):
    """The event lacks what a rule needs, e.g. a valid ``data.starts_at``; a 422 for the client."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


def message_id(client: str, event_id: str, rule_id: str) -> str:
    """Deterministic, so planning the same event twice yields the same ids."""
    raw = f"{client}\0{event_id}\0{rule_id}".encode()
    return hashlib.blake2b(raw, digest_size=12).hexdigest()


def read_field(event: Event, path: str) -> Any:
    """The value at ``occurred_at`` or ``data.a.b``; raises :class:`KeyError` if absent."""
    if path == "occurred_at":
        return event.occurred_at
    value: Any = event.data
    for part in path.split(".")[1:]:
        if not isinstance(value, dict) or part not in value:
            raise KeyError(path)
        value = value[part]
    return value


def read_timestamp(event: Event, path: str) -> datetime:
    try:
        value = read_field(event, path)
    except KeyError:
        raise EventDataError(path, "required by the rules for this event type") from None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise EventDataError(
                path, "not an ISO 8601 date-time, e.g. 2026-06-12T10:30:00+02:00"
            ) from None
    if not isinstance(value, datetime):
        raise EventDataError(path, "must be an ISO 8601 date-time string")
    if value.tzinfo is None:
        raise EventDataError(path, "needs a UTC offset or Z, e.g. 2026-06-12T10:30:00+02:00")
    return value


def due_time(timing: Timing, event: Event, now: datetime) -> datetime:
    if isinstance(timing, Immediately):
        return now
    assert isinstance(timing, Offset)
    return read_timestamp(event, timing.field) + timing.delta


def matches(event_type: str, patterns: tuple[str, ...]) -> bool:
    return event_type in patterns


def plan(event: Event, rules: RuleSet, now: datetime, *, client: str = "") -> Plan:
    """Decide what ``event`` schedules and cancels under ``rules`` at ``now``.

    Cancellations apply before new messages are stored, so a rule that replaces its pending
    messages on a new trigger (a rescheduled appointment) never cancels its own new plan.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    messages: list[PlannedMessage] = []
    cancellations: list[Cancellation] = []
    skipped: list[Skipped] = []
    for rule in rules.rules:
        if matches(event.type, rule.cancel_on):
            cancellations.append(
                Cancellation(
                    subject=event.subject, rule=rule.id, reason=f"cancelled by {event.type}"
                )
            )
            continue
        if not matches(event.type, rule.trigger):
            continue
        if rule.replace_pending:
            cancellations.append(
                Cancellation(
                    subject=event.subject, rule=rule.id, reason=f"replaced by {event.type}"
                )
            )
        planned = _plan_rule(rule, event, now, rules.version, client)
        if isinstance(planned, Skipped):
            skipped.append(planned)
        else:
            messages.append(planned)
    return Plan(
        messages=tuple(messages), cancellations=tuple(cancellations), skipped=tuple(skipped)
    )


def _plan_rule(
    rule: Rule, event: Event, now: datetime, version: str, client: str
) -> PlannedMessage | Skipped:
    due = due_time(rule.timing, event, now)
    if due < now - timedelta(seconds=1):
        if rule.if_past == "skip":
            return Skipped(rule=rule.id, reason=f"due time {due.isoformat()} is already past")
        due = now
    return PlannedMessage(
        id=message_id(client, event.id, rule.id),
        rule=rule.id,
        rules_version=version,
        event_id=event.id,
        event_type=event.type,
        subject=event.subject,
        due_at=due,
        template=rule.template,
        channels=rule.channels,
        recipient=event.recipient,
        data=event.data,
    )
