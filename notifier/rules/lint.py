"""Warnings about rules that load but will not do what their author meant.

``notifier rules check`` prints them after the errors. They never stop a rule set from
loading: a missing English template falls back to French, which may be acceptable; a rule
that can never match is probably not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from jinja2 import TemplateError

from notifier.models import Channel, Event
from notifier.rules.compare import accepts, literal_kind, value_kind
from notifier.rules.engine import EventDataError, plan, read_field, rule_applies
from notifier.rules.loader import RuleError, RuleSet, RuleSetError
from notifier.rules.schema import ORDERING, Rule, event_matches
from notifier.rules.timing import next_cron
from notifier.templates.context import template_context
from notifier.templates.renderer import (
    DEFAULT_LOCALE,
    REQUIRED_PARTS,
    Renderer,
    TemplateMissingError,
)
from notifier.templates.sms import analyze


def _never_matches(rule: Rule) -> str | None:
    cancelled = [t for t in rule.trigger if any(event_matches(t, c) for c in rule.cancel_on)]
    if len(cancelled) == len(rule.trigger):
        return (
            f"rule can never match: every trigger ({', '.join(rule.trigger)}) is also in "
            "cancel_on, and cancelling wins"
        )
    for condition in rule.when:
        operator, value = condition.operator
        if operator == "in" and not value:
            return f"rule can never match: 'in' on {condition.field} lists no value"
    fields = [c for c in rule.when if c.operator[0] == "equals"]
    for i, first in enumerate(fields):
        for second in fields[i + 1 :]:
            if first.field == second.field and first.equals != second.equals:
                return (
                    f"rule can never match: {first.field} must equal both "
                    f"{first.equals!r} and {second.equals!r}"
                )
    return None


def _template_findings(rule: Rule, templates: Path) -> list[str]:
    folder = templates / rule.template
    if not folder.is_dir():
        return [f"unknown template {rule.template!r}: no folder {folder}"]
    findings = []
    locales = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if DEFAULT_LOCALE not in locales:
        findings.append(f"template {rule.template!r} has no French ({DEFAULT_LOCALE}) version")
    elif not (folder / DEFAULT_LOCALE / "easy").is_dir():
        findings.append(
            f"template {rule.template!r} has no easy-to-read variant ({DEFAULT_LOCALE}/easy/): "
            "readers who asked for one get the standard text"
        )
    for locale in locales:
        easy = folder / locale / "easy"
        if not easy.is_dir():
            continue
        standard = {p.name for p in (folder / locale).glob("*.j2")}
        simple = {p.name for p in easy.glob("*.j2")}
        if "email.text.j2" in simple:
            simple.add("email.html.j2")  # built from the easy text
        simple.add("webpush.url.j2")  # a link, not wording
        lacking = sorted(n.removesuffix(".j2") for n in standard - simple)
        if lacking:
            findings.append(
                f"template {rule.template!r}: the easy-to-read variant of {locale!r} lacks "
                f"{', '.join(lacking)}: readers who asked for it get the standard wording there"
            )
    for channel in rule.channels:
        for locale in locales:
            missing = [
                part
                for part in REQUIRED_PARTS[Channel(channel)]
                if not (folder / locale / f"{channel.value}.{part}.j2").is_file()
            ]
            if missing:
                fallback = " (French will be used)" if locale != DEFAULT_LOCALE else ""
                findings.append(
                    f"template {rule.template!r} lacks {channel.value} "
                    f"{', '.join(missing)} for locale {locale!r}{fallback}"
                )
    return findings


def _budget_findings(
    ruleset: RuleSet, renderer: Renderer, samples: Sequence[Event], now: datetime
) -> dict[str, list[str]]:
    """SMS texts over their rule's segment budget, rendered from sample events."""
    findings: dict[str, list[str]] = {}
    for event in samples:
        try:
            messages = plan(event, ruleset, now).messages
        except EventDataError as exc:
            findings.setdefault("", []).append(f"sample event {event.id}: {exc}")
            continue
        for message in messages:
            rule = ruleset.get(message.rule)
            if rule is None or rule.max_sms_segments is None or Channel.SMS not in rule.channels:
                continue
            try:
                text = renderer.render(
                    message.template,
                    Channel.SMS,
                    event.recipient.locale,
                    template_context(message, Channel.SMS),
                )["text"]
            except (TemplateMissingError, TemplateError, ValueError) as exc:
                findings.setdefault(rule.id, []).append(f"cannot render for {event.id}: {exc}")
                continue
            info = analyze(text)
            if info.segments > rule.max_sms_segments:
                findings.setdefault(rule.id, []).append(
                    f"SMS for sample {event.id} takes {info.segments} segments ({info.encoding}, "
                    f"{info.characters} characters), over the budget of {rule.max_sms_segments}"
                )
    return findings


def _condition_findings(rule: Rule, samples: Sequence[Event]) -> list[str]:
    """Conditions whose literal is of another kind than the field in a sample event: they
    could never hold (``gte: 2`` on a field the samples carry as a date)."""
    findings = []
    for event in samples:
        if not any(event_matches(event.type, p) for p in rule.trigger):
            continue
        for condition in rule.when:
            operator, literal = condition.operator
            if operator not in ORDERING:
                continue
            try:
                value = read_field(event, condition.field)
            except KeyError:
                continue
            kind = literal_kind(literal)
            if not accepts(kind, value):
                findings.append(
                    f"{condition.field} {operator} {literal!r} compares a {kind} with "
                    f"{value!r} in sample {event.id} ({value_kind(value) or 'no comparable'} "
                    "value): it can never hold"
                )
    return findings


def _field_findings(
    rule: Rule, samples: Sequence[Event], template_fields: Mapping[str, frozenset[str]]
) -> list[str]:
    """Fields the rule's messages need that no sample event of the rule carries: an event
    like the samples would be refused at ingest (422)."""
    triggered = [e for e in samples if rule_applies(rule, e)]
    if not triggered:
        return []
    findings = []
    read = template_fields.get(rule.template, frozenset())
    for path in sorted(read | set(rule.requires)):
        if all(_lacks(event, path) for event in triggered):
            source = f"template {rule.template!r} reads" if path in read else "requires:"
            findings.append(
                f"{source} {path}, which no sample event of this rule has: such events "
                "would be refused (422)"
            )
    return findings


def _lacks(event: Event, path: str) -> bool:
    try:
        read_field(event, path)
    except KeyError:
        return True
    return False


def lint(
    ruleset: RuleSet, templates: Path, now: datetime, samples: Sequence[Event] = ()
) -> list[RuleError]:
    """Every finding for ``ruleset``, placed at the rule it concerns: warnings, and errors
    that only sample events can reveal (a condition on a field of another type).

    ``samples`` are example events: each is planned and its SMS texts rendered, to check
    them against their rule's ``max_sms_segments``.
    """
    try:
        renderer: Renderer | None = Renderer(templates)
    except RuleSetError as exc:  # the templates do not compile: those are errors of their own
        renderer, template_errors = None, exc.errors
    else:
        template_errors = []
    budget = _budget_findings(ruleset, renderer, samples, now) if renderer else {}
    warnings = template_errors + [
        RuleError("samples", 0, 0, m, severity="warning") for m in budget.pop("", [])
    ]
    for rule in ruleset.rules:
        file, line, column = ruleset.locations.get(rule.id, ("?", 0, 0))
        fields = renderer.current.fields if renderer else {}
        warnings += [
            RuleError(file, line, column, f"{rule.id}: {m}")
            for m in _condition_findings(rule, samples) + _field_findings(rule, samples, fields)
        ]
        messages = _template_findings(rule, templates) + budget.get(rule.id, [])
        never = _never_matches(rule)
        if never:
            messages.append(never)
        if rule.every is not None and next_cron(rule.every.cron, now, "Europe/Paris") is None:
            messages.append(f"cron expression {rule.every.cron!r} never fires")
        warnings += [
            RuleError(file, line, column, f"{rule.id}: {m}", severity="warning") for m in messages
        ]
    return warnings
