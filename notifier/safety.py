"""What a person's safety settings change in delivery (the README's "Safe contact" table).

Pure functions, beside the other decisions (:mod:`notifier.delivery.decisions`,
:mod:`notifier.accessibility`); tests/test_safety.py holds them to tables. Safety wins over
everything a rule says: a critical message waits for a safe time too, and never goes past
its expiry.

=========== =================================================================================
discreet    the template's ``discreet/`` variant, else a generic discreet message; neutral
            sender (see :mod:`notifier.templates.discreet` and the channels)
safe_hours  a message due outside waits for the next safe time; expires instead if that is
            past its expiry
channels    the other channels are skipped, with the reason
contacts    within a channel, another address than the safe one is skipped, with the reason
paused      nothing is sent; a message due meanwhile ends ``withheld``
=========== =================================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from notifier.channels.registry import address_of
from notifier.models import Channel, MessageStatus, PlannedMessage, SafeHours, Safety, Weekday
from notifier.rules.engine import settle
from notifier.rules.timing import place

WEEKDAYS = list(Weekday)  # Monday first, as date.weekday() counts


def tightened(current: Safety, asked: Safety) -> Safety:
    """What an event's inline ``safety`` makes of the settings in force: it may add a
    restriction, never lift one (lifting is for the person, or an agent at their request).
    Safe channels narrow to those in both (none in common: the current ones stay); safe
    hours are added where none are set, never replaced."""
    channels = current.channels
    if asked.channels is not None:
        channels = (asked.channels if channels is None else channels & asked.channels) or channels
    return Safety(
        discreet=current.discreet or asked.discreet,
        safe_hours=current.safe_hours or asked.safe_hours,
        channels=channels,
        contacts=current.contacts or asked.contacts,
        paused=current.paused or asked.paused,
    )


def unsafe_channel(channel: Channel, address: str | None, safety: Safety) -> str | None:
    """Why ``channel``, to ``address``, must not be used for this person; None if it may."""
    if safety.channels is not None and channel not in safety.channels:
        return f"{channel.value} is not a safe channel for this person"
    safe = address_of(safety.contacts, channel) if safety.contacts else None
    if safe is not None and address is not None and safe.lower() != address.lower():
        return f"this {channel.value} address is not the one the person said is safe"
    return None


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def next_safe(moment: datetime, hours: SafeHours, timezone: str) -> datetime:
    """``moment`` if it falls in a safe window, else the start of the next one."""
    start, end = _clock(hours.start), _clock(hours.end)
    today = moment.astimezone(ZoneInfo(timezone)).date()
    starts = []
    for offset in range(-1, 9):  # yesterday's window may run past midnight; a week ahead
        day = today + timedelta(days=offset)
        if WEEKDAYS[day.weekday()] not in hours.days:
            continue
        opens = place(day, start, timezone)
        closes = place(day + timedelta(days=1) if end < start else day, end, timezone)
        if opens <= moment < closes:
            return moment
        if opens > moment:
            starts.append(opens)
    return min(starts)  # days is never empty (the model says so): a week holds one


def when_safe(moment: datetime, message: PlannedMessage) -> datetime:
    """The first time from ``moment`` outside the rule's quiet hours and inside the person's
    safe hours (the two may push each other: a few rounds settle it)."""
    hours = message.recipient.safe.safe_hours
    for _ in range(4):
        moved = settle(moment, message)
        if hours is not None:
            moved = next_safe(moved, hours, message.recipient.timezone)
        if moved == moment:
            break
        moment = moved
    return moment


@dataclass(frozen=True)
class Hold:
    """A message not sent now: ``status`` (final unless ``retry_at``) and why."""

    status: MessageStatus
    detail: str
    retry_at: datetime | None = None


def hold(now: datetime, message: PlannedMessage, min_lifetime: timedelta) -> Hold | None:
    """Whether the person's settings, or the rule's quiet hours, keep ``message`` from
    leaving ``now``; None if it may go."""
    safety = message.recipient.safe
    if safety.paused:
        return Hold(MessageStatus.WITHHELD, "withheld: the person paused all contact")
    later = when_safe(now, message)
    if later <= now:
        return None
    why = "quiet hours"
    if safety.safe_hours is not None and settle(now, message) < later:
        why = "outside the person's safe hours"
    if message.expires_at is not None and message.expires_at - later < min_lifetime:
        return Hold(MessageStatus.EXPIRED, f"{why} until its expiry: not sent")
    return Hold(MessageStatus.SCHEDULED, f"{why}: deferred to {later.isoformat()}", later)


def changes(before: Safety, after: Safety) -> str:
    """What changed from ``before`` to ``after``, in words that name no contact or time: what
    an audit entry may keep (``discreet on, pause off, safe channels``)."""
    said = [
        f"{name} {'on' if getattr(after, field) else 'off'}"
        for field, name in (("discreet", "discreet"), ("paused", "pause"))
        if getattr(before, field) != getattr(after, field)
    ]
    said += [
        name
        for field, name in (
            ("channels", "safe channels"),
            ("safe_hours", "safe hours"),
            ("contacts", "safe contacts"),
        )
        if getattr(before, field) != getattr(after, field)
    ]
    return ", ".join(said) or "nothing"
