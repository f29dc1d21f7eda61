"""``notifier rules preview``: the exact timeline an event would produce, before it goes live.

For each planned message: its rule, its due time in the recipient's local time, its channels
in order and the text each would carry; then what was skipped and what would be cancelled.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from jinja2 import TemplateError

from notifier.accessibility import excluded_channel, prepare_sms
from notifier.models import Channel, Event, Need, PlannedMessage
from notifier.rules.engine import plan
from notifier.rules.loader import RuleSet
from notifier.templates.context import template_context
from notifier.templates.renderer import Renderer, TemplateMissingError
from notifier.templates.sms import sms_report


def _local(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%a %Y-%m-%d %H:%M %Z")


def _texts(message: PlannedMessage, renderer: Renderer) -> list[str]:
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
        reachable = message.recipient.contacts.address_for(channel) is not None
        note = "" if reachable else " (recipient has no contact for it)"
        excluded = excluded_channel(channel, message.recipient.needs)
        if excluded:
            note = f" (not used: {excluded})"
        if channel is Channel.SMS:
            parts["text"], _, problem = prepare_sms(parts["text"], message.recipient.needs, "gsm")
            note = f" ({sms_report(parts['text'])}{'; ' + problem if problem else ''}){note}"
        lines.append(f"     {channel.value}{note}:")
        for name, text in parts.items():
            first, *rest = text.split("\n")
            lines.append(f"       {name}: {first}")
            lines += [(" " * 9 + line).rstrip() for line in rest]
    return lines


def preview(event: Event, ruleset: RuleSet, renderer: Renderer, now: datetime) -> str:
    decided = plan(event, ruleset, now, client="preview")
    zone = event.recipient.timezone
    out = [
        f"event {event.id} ({event.type}) on {event.subject}",
        f"rules version {ruleset.version}; now {_local(now, zone)}; recipient zone {zone}, "
        f"locale {event.recipient.locale}",
        "",
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
        out += _texts(message, renderer)
    if decided.skipped:
        out += ["", "skipped:"] + [f"  - {s.rule}: {s.reason}" for s in decided.skipped]
    if decided.cancellations:
        out += ["", "would cancel what is pending for:"]
        out += [
            f"  - rule {c.rule or '(any)'} on {c.subject} ({c.reason})"
            for c in decided.cancellations
        ]
    return "\n".join(out)
