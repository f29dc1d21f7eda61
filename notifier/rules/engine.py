"""The planning engine: ``plan(event, rules, now) -> Plan``, a pure function.

No I/O and no clock of its own: the same inputs always give the same plan, message ids
included (they are derived from the client, the event id and the rule), which is what makes a
retried event idempotent and the engine testable with property-based tests.

What a rule decides is fixed here, at planning time: due time, expiry, quiet hours, series.
The worker re-checks expiry and quiet hours at send time, and asks :func:`next_in_series`
for the following occurrence of a recurring message when one fires.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from notifier.models import Event, PlannedMessage, Series
from notifier.rules.compare import ordered
from notifier.rules.expressions import Immediately, LocalTime, Offset, parse_clock
from notifier.rules.loader import RuleSet
from notifier.rules.plans import Cancellation, Plan, Skipped
from notifier.rules.schema import Condition, QuietHours, Rule, event_matches
from notifier.rules.timing import after_quiet_hours, local_time_relative, next_cron

# A due time this close behind "now" is not "in the past": it is the request's own latency.
PAST_TOLERANCE = timedelta(seconds=1)


class EventDataError(ValueError):
    """The event lacks what a rule needs, e.g. a valid ``data.starts_at``; a 422 for the client."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


def message_id(client: str, event_id: str, rule_id: str) -> str:
    """Deterministic, so planning the same event twice yields the same ids.

    96 bits in URL-safe base64: 16 characters, where hex would take 24. An id is stored
    five times per pending message (its key, the schedule, two indexes, the event's answer).
    """
    raw = f"{client}\0{event_id}\0{rule_id}".encode()
    return base64.urlsafe_b64encode(hashlib.blake2b(raw, digest_size=12).digest()).decode()


_MISSING = object()


@lru_cache(maxsize=1024)  # the paths rules and templates name: a few dozen
def _data_path(path: str) -> tuple[str, ...]:
    return tuple(path.split(".")[1:])


def read_field(event: Event, path: str) -> Any:
    """The value at ``occurred_at`` or ``data.a.b``; raises :class:`KeyError` if absent."""
    if path == "occurred_at":
        return event.occurred_at
    value: Any = event.data
    for part in _data_path(path):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(path)
        value = value[part]
    return value


# The times an event may give: offsets, a week of retries and the retention are added to
# them, and the calendar ends at years 1 and 9999 (an OverflowError, a 500, past them).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


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
    if not EARLIEST <= value <= LATEST:
        raise EventDataError(path, f"must fall in the years {EARLIEST.year} to {LATEST.year - 1}")
    return value


def condition_holds(event: Event, condition: Condition) -> bool:
    """Evaluate one declarative condition; a missing field fails every test but ``present``."""
    try:
        actual = read_field(event, condition.field)
    except KeyError:
        actual = _MISSING
    operator, expected = condition.operator
    if operator == "present":
        return (actual is not _MISSING) is expected
    if actual is _MISSING:
        return False
    if operator == "equals":
        return bool(actual == expected)
    if operator == "not_equals":
        return bool(actual != expected)
    if operator == "in":
        return actual in expected
    if operator == "not_in":
        return actual not in expected
    return ordered(actual, operator, expected)


def rule_applies(rule: Rule, event: Event) -> bool:
    return any(event_matches(event.type, p) for p in rule.trigger) and all(
        condition_holds(event, c) for c in rule.when
    )


def plan(
    event: Event, rules: RuleSet, now: datetime, *, client: str = "", tenant: str | None = None
) -> Plan:
    """Decide what ``event`` from ``client`` schedules and cancels under ``rules`` at ``now``.

    Cancellations apply before new messages are stored, so a rule that replaces its pending
    messages on a new trigger (a rescheduled appointment) never cancels its own new plan.
    They reach only the messages of ``tenant`` (the client's own name unless given): another
    client's event on the same subject leaves them alone.
    """
    tenant = client if tenant is None else tenant
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    messages: list[PlannedMessage] = []
    cancellations: list[Cancellation] = []
    skipped: list[Skipped] = []
    for rule, cancels in rules.for_type(event.type):
        if cancels:
            cancellations.append(
                Cancellation(
                    tenant=tenant,
                    subject=event.subject,
                    rule=rule.id,
                    reason=f"cancelled by {event.type}",
                )
            )
            continue
        if not all(condition_holds(event, c) for c in rule.when):
            continue
        if rule.replace_pending:
            cancellations.append(
                Cancellation(
                    tenant=tenant,
                    subject=event.subject,
                    rule=rule.id,
                    reason=f"replaced by {event.type}",
                )
            )
        planned = _plan_rule(rule, event, now, rules, client, tenant)
        if isinstance(planned, Skipped):
            skipped.append(planned)
        else:
            messages.append(planned)
    return Plan(
        messages=tuple(messages), cancellations=tuple(cancellations), skipped=tuple(skipped)
    )


def missing_fields(
    event: Event, decided: Plan, rules: RuleSet, template_fields: Mapping[str, frozenset[str]]
) -> list[tuple[str, str]]:
    """``(field, rule id)`` for each field a planned message needs and ``event`` lacks.

    A message needs what its rule ``requires:`` and what its template reads unguarded in any
    locale or variant (``template_fields``, see :mod:`notifier.templates.fields`): without
    it, the send would fail, long after the upstream was told 202.
    """
    missing = []
    for message in decided.messages:
        rule = rules.get(message.rule)
        wanted = set(template_fields.get(message.template, ())) | set(rule.requires if rule else ())
        for path in sorted(wanted):
            try:
                read_field(event, path)
            except KeyError:
                missing.append((path, message.rule))
    return missing


def quiet_window(rule: Rule, rules: RuleSet) -> tuple[str, str] | None:
    if rule.critical:
        return None
    chosen = rule.quiet_hours if rule.quiet_hours is not None else rules.defaults.quiet_hours
    return (chosen.start, chosen.end) if isinstance(chosen, QuietHours) else None


def settle(due: datetime, message: PlannedMessage) -> datetime:
    """``due`` moved out of the message's quiet hours, if it has any."""
    return settled(due, message.quiet_hours, message.recipient.timezone)


def settled(due: datetime, quiet_hours: tuple[str, str] | None, timezone: str) -> datetime:
    """``due`` moved out of ``quiet_hours`` (local, in ``timezone``), if there are any."""
    if quiet_hours is None:
        return due
    window = parse_clock(quiet_hours[0]), parse_clock(quiet_hours[1])
    return after_quiet_hours(due, window, timezone)


def _first_due(rule: Rule, event: Event, now: datetime) -> datetime | None:
    """When the rule's message (or first occurrence) falls due; None if a series never fires."""
    timezone = event.recipient.timezone
    if rule.every is not None:
        start = read_timestamp(event, rule.every.start) if rule.every.start else now
        return next_cron(rule.every.cron, max(start, now) - timedelta(microseconds=1), timezone)
    timing = rule.timing
    if isinstance(timing, Immediately):
        return now
    if isinstance(timing, LocalTime):
        anchor = read_timestamp(event, timing.field)
        return local_time_relative(anchor, timing.days, timing.clock, timezone)
    assert isinstance(timing, Offset)
    return read_timestamp(event, timing.field) + timing.delta


def _plan_rule(
    rule: Rule, event: Event, now: datetime, rules: RuleSet, client: str, tenant: str
) -> PlannedMessage | Skipped:
    expiry = rule.expiry
    expires_at = read_timestamp(event, expiry.field) + expiry.delta if expiry else None
    due = _first_due(rule, event, now)
    series = None
    if rule.every is not None:
        if due is None:
            return Skipped(rule=rule.id, reason=f"cron {rule.every.cron!r} never fires")
        until = read_timestamp(event, rule.every.until) if rule.every.until else None
        series = Series(
            cron=rule.every.cron,
            index=1,
            count=rule.every.count,
            until=until,
            base_id=message_id(client, event.id, rule.id),
            nominal_at=due,
        )
    assert due is not None
    if due < now - PAST_TOLERANCE:
        late = now - due
        grace = rule.grace_period
        if rule.if_past == "skip" or (grace is not None and late > grace):
            return Skipped(rule=rule.id, reason=f"due time {due.isoformat()} is already past")
        due = now
    quiet_hours = quiet_window(rule, rules)
    final = _final_due(due, quiet_hours, event.recipient.timezone, expires_at, series)
    if isinstance(final, str):
        return Skipped(rule=rule.id, reason=final)
    return PlannedMessage(
        id=f"{series.base_id}-1" if series else message_id(client, event.id, rule.id),
        rule=rule.id,
        rules_version=rules.version,
        event_id=event.id,
        event_type=event.type,
        tenant=tenant,
        subject=event.subject,
        due_at=final,
        template=rule.template,
        channels=rule.channels,
        recipient=event.recipient,
        data=event.data,
        expires_at=expires_at,
        quiet_hours=quiet_hours,
        cap=(rule.cap.max, int(rule.cap.period.total_seconds())) if rule.cap else None,
        series=series,
        category=rule.category,
        critical=rule.critical,
    )


def _final_due(
    due: datetime,
    quiet_hours: tuple[str, str] | None,
    timezone: str,
    expires_at: datetime | None,
    series: Series | None,
) -> datetime | str:
    """``due`` deferred out of quiet hours; or why the message would then be pointless."""
    due = settled(due, quiet_hours, timezone)
    if expires_at is not None and due >= expires_at:
        return f"it would arrive after its expiry ({expires_at.isoformat()})"
    if series and series.until and due > series.until:
        return "the series ends before this occurrence"
    return due


def next_in_series(message: PlannedMessage) -> PlannedMessage | None:
    """The occurrence after ``message`` in its series, or None when the series is over.

    Computed from the occurrence's nominal cron time, not from when it was sent or where
    quiet hours moved it, so a late or deferred send never skips or doubles an occurrence.
    """
    series = message.series
    if series is None or (series.count is not None and series.index >= series.count):
        return None
    due = next_cron(series.cron, series.nominal_at, message.recipient.timezone)
    if due is None:
        return None
    index = series.index + 1
    following = series.model_copy(update={"index": index, "nominal_at": due})
    final = _final_due(
        due, message.quiet_hours, message.recipient.timezone, message.expires_at, following
    )
    if isinstance(final, str):
        return None
    return message.model_copy(
        update={"id": f"{series.base_id}-{index}", "due_at": final, "series": following}
    )
