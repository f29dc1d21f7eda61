"""Warnings about rules that load but will not do what their author meant.

``notifier rules check`` prints them after the errors. They never stop a rule set from
loading: a missing English template falls back to French, which may be acceptable; a rule
that can never match is probably not. A rule whose template cannot render (no French part
for one of its channels) is an error, as the running engine refuses it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from difflib import get_close_matches
from pathlib import Path

from jinja2 import TemplateError

from notifier.channels.segments import analyze
from notifier.models import Channel, Event
from notifier.rules.compare import accepts, literal_kind, value_kind
from notifier.rules.engine import EventDataError, plan, read_field, rule_applies
from notifier.rules.loader import RuleError, RuleSet, RuleSetError
from notifier.rules.pairing import missing_templates
from notifier.rules.schema import ORDERING, Rule, event_matches
from notifier.rules.timing import next_cron
from notifier.templates.context import template_context
from notifier.templates.renderer import (
    DEFAULT_LOCALE,
    REQUIRED_PARTS,
    Renderer,
    TemplateMissingError,
)


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
    """What readers of some locales or variants miss; a part missing in French is an error
    of its own (:func:`notifier.rules.pairing.missing_templates`)."""
    folder = templates / rule.template
    if not folder.is_dir():
        return []
    findings = []
    locales = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if DEFAULT_LOCALE in locales and not (folder / DEFAULT_LOCALE / "easy").is_dir():
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
        for locale in (locale for locale in locales if locale != DEFAULT_LOCALE):
            missing = [
                part
                for part in REQUIRED_PARTS[Channel(channel)]
                if not (folder / locale / f"{channel.value}.{part}.j2").is_file()
            ]
            if missing:
                findings.append(
                    f"template {rule.template!r} lacks {channel.value} "
                    f"{', '.join(missing)} for locale {locale!r} (French will be used)"
                )
    return findings


def _unknown_type_findings(rule: Rule, ruleset: RuleSet, samples: Sequence[Event]) -> list[str]:
    """Event types of ``cancel_on`` that no rule triggers on and no sample event has (a typo
    there lets every reminder survive every cancellation); with samples, triggers too."""
    sampled = {e.type for e in samples}
    triggers = {t for r in ruleset.rules for t in r.trigger}
    others = {t for r in ruleset.rules if r is not rule for t in r.trigger + r.cancel_on}
    named = [("cancel_on", t, triggers, "no rule triggers on") for t in rule.cancel_on]
    if samples:
        named += [("trigger", t, others, "no other rule names") for t in rule.trigger]
    findings = []
    for key, pattern, known, unknown in named:
        if any(_same_type(pattern, k) for k in known | sampled):
            continue
        near = get_close_matches(pattern, sorted(known | sampled), n=1, cutoff=0.8)
        hint = f": did you mean {near[0]!r}?" if near else ""
        samples_too = "and no sample event has" if samples else "(nor any sample event: --events)"
        findings.append(f"{key} names {pattern!r}, which {unknown} {samples_too}{hint}")
    return findings


def _same_type(first: str, second: str) -> bool:
    """Whether two event types or patterns (``appointment.*``) can name one event."""
    return event_matches(first, second) or event_matches(second, first)


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
    renderer: Renderer | None = None
    try:
        renderer = Renderer(templates)
    except RuleSetError as exc:  # the templates do not compile: those are errors of their own
        template_errors = exc.errors
    else:
        template_errors = missing_templates(ruleset, renderer.current)
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
        messages += _unknown_type_findings(rule, ruleset, samples)
        never = _never_matches(rule)
        if never:
            messages.append(never)
        if rule.every is not None and next_cron(rule.every.cron, now, "Europe/Paris") is None:
            messages.append(f"cron expression {rule.every.cron!r} never fires")
        warnings += [
            RuleError(file, line, column, f"{rule.id}: {m}", severity="warning") for m in messages
        ]
    return warnings
