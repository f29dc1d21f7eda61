"""``notifier rules preview``: the exact timeline an event would produce, before it goes live.

For each planned message: its rule, its due time in the recipient's local time, its channels
in order and the text each would carry (an e-mail's HTML only on request); then what was
skipped and which pending messages it would cancel or replace. Several events are previewed
in order, each one's cancellations applying to what the ones before planned: a booking then
its cancellation; alone, a first booking has nothing to replace.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from jinja2 import TemplateError

from notifier.accessibility import excluded_channel
from notifier.channels.registry import address_of, plugin
from notifier.models import Event, Need, PlannedMessage
from notifier.rules.engine import plan
from notifier.rules.loader import RuleSet
from notifier.rules.plans import Cancellation, Plan
from notifier.templates.context import template_context
from notifier.templates.renderer import Renderer, TemplateMissingError


def _local(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%a %Y-%m-%d %H:%M %Z")


def _texts(message: PlannedMessage, renderer: Renderer, html: bool) -> list[str]:
    lines = []
    for channel in message.channels:
        try:
            parts = renderer.render(
                message.template,
                channel,
                message.recipient.locale,
                template_context(message, channel),
                easy_read=Need.EASY_READ in message.recipient.needs,
                discreet=message.recipient.safe.discreet,
            )
        except (TemplateMissingError, TemplateError, ValueError) as exc:
            lines.append(f"     {channel.value}: CANNOT RENDER: {exc}")
            continue
        reachable = address_of(message.recipient.contacts, channel) is not None
        note = "" if reachable else " (recipient has no contact for it)"
        excluded = excluded_channel(channel, message.recipient.needs)
        if excluded:
            note = f" (not used: {excluded})"
        prepare = plugin(channel).prepare
        if prepare is not None:
            prepared = prepare(parts, message.recipient.needs, "gsm")
            parts, problem = prepared.parts, prepared.problem
            note = f" ({prepared.report}{'; ' + problem if problem else ''}){note}"
        lines.append(f"     {channel.value}{note}:")
        for name, text in parts.items():
            if name == "html" and not html:
                lines.append(f"       html: {text.count(chr(10)) + 1} lines (--html shows them)")
                continue
            first, *rest = text.split("\n")
            lines.append(f"       {name}: {first}")
            lines += [(" " * 9 + line).rstrip() for line in rest]
    return lines


def preview(
    events: Event | Sequence[Event],
    ruleset: RuleSet,
    renderer: Renderer,
    now: datetime,
    html: bool = False,
) -> str:
    """The timeline of ``events`` (one, or several posted in this order) at ``now``;
    :class:`EventDataError` if one cannot be planned."""
    if isinstance(events, Event):
        events = [events]
    out = [f"rules version {ruleset.version}; now {now.isoformat()}"]
    pending: list[PlannedMessage] = []
    for event in events:
        decided = plan(event, ruleset, now, client="preview")
        out += ["", *_event_timeline(event, decided, now, renderer, html)]
        zone = event.recipient.timezone
        gone = [m for m in pending if any(_cancels(c, m) for c in decided.cancellations)]
        if gone:
            out += ["", "cancels or replaces what is pending:"]
            out += [
                f"  - {m.rule} due {_local(m.due_at, zone)} ({_reason(decided, m)})" for m in gone
            ]
        elif decided.cancellations:
            out += ["", f"nothing to replace or cancel: nothing is pending on {event.subject}"]
        pending = [m for m in pending if m not in gone] + list(decided.messages)
    return "\n".join(out)


def _cancels(cancellation: Cancellation, message: PlannedMessage) -> bool:
    return cancellation.subject == message.subject and cancellation.rule in (None, message.rule)


def _reason(decided: Plan, message: PlannedMessage) -> str:
    return next(c.reason for c in decided.cancellations if _cancels(c, message))


def _event_timeline(
    event: Event, decided: Plan, now: datetime, renderer: Renderer, html: bool
) -> list[str]:
    zone = event.recipient.timezone
    out = [
        f"event {event.id} ({event.type}) on {event.subject}",
        f"now {_local(now, zone)}; recipient zone {zone}, locale {event.recipient.locale}",
    ]
    if not decided.messages:
        out.append("plans no message")
    for n, message in enumerate(sorted(decided.messages, key=lambda m: m.due_at), 1):
        out.append(f"  {n}. {message.rule}: {_local(message.due_at, zone)}")
        details = [f"channels {' → '.join(c.value for c in message.channels)}"]
        if message.expires_at:
            details.append(f"expires {_local(message.expires_at, zone)}")
        if message.series:
            details.append(f"then every '{message.series.cron}'")
        if message.quiet_hours is None:
            details.append("ignores quiet hours")
        out.append("     " + "; ".join(details))
        out += _texts(message, renderer, html)
    if decided.skipped:
        out += ["", "skipped:"] + [f"  - {s.rule}: {s.reason}" for s in decided.skipped]
    return out
