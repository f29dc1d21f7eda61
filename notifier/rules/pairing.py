"""Rules and templates go live as a pair: no rule may name a template that cannot render.

Each rule's template must have every required part of each of the rule's channels in French,
the fallback of every locale (a locale lacking a part takes it from French, so French alone
decides whether any recipient can be written to). :func:`missing_templates` finds the rules
that break this, at the rule's file:line; ``notifier rules check`` reports them as errors.

The rule files and the templates folder reload on their own (:mod:`notifier.runtime.reloading`), so
:func:`pair` makes each side check a change against the other side in force: a rule naming
a template that does not exist is refused, and so is a templates change that removes one a
rule in force still names. Either refusal keeps the last good version and says why.
"""

from __future__ import annotations

from notifier.rules.loader import RuleError, RuleSet, RuleSetError, RulesHolder
from notifier.runtime.reloading import Reloading
from notifier.templates.catalog import DEFAULT_LOCALE, REQUIRED_PARTS, TemplateSet


def missing_templates(ruleset: RuleSet, templates: TemplateSet) -> list[RuleError]:
    """An error at each rule whose template lacks a part one of its channels needs."""
    errors = []
    known = set(templates.names())
    for rule in ruleset.rules:
        file, line, column = ruleset.locations.get(rule.id, ("?", 0, 0))
        if rule.template not in known:
            problems = [f"no template {rule.template!r} in {templates.folder}"]
        else:
            problems = [
                f"template {rule.template!r} has no {channel.value}.{part}.j2 in French "
                f"({DEFAULT_LOCALE}), the fallback of every locale"
                for channel in rule.channels
                for part in REQUIRED_PARTS[channel]
                if templates.path(rule.template, channel, part, DEFAULT_LOCALE) is None
            ]
        errors += [RuleError(file, line, column, f"{rule.id}: {p}") for p in problems]
    return errors


def pair(rules: RulesHolder, templates: Reloading[TemplateSet], *, now: bool = True) -> None:
    """Make each holder refuse a change that the other one in force cannot go with.

    With ``now``, raises :class:`RuleSetError` if the versions in force already do not go
    together (the API refuses to start). A worker pairs without: it reads the folders when
    its first message comes, maybe while the API refuses what they hold, and still delivers
    the messages whose templates are there.
    """
    errors = missing_templates(rules.current, templates.current) if now else []
    if errors:
        raise RuleSetError(errors)

    def rules_go_with_templates(fresh: RuleSet) -> None:
        errors = missing_templates(fresh, templates.current)
        if errors:
            raise RuleSetError(errors)

    def templates_go_with_rules(fresh: TemplateSet) -> None:
        # only what the change breaks: rules that were already wrong (a worker paired
        # without checking) do not hold every other templates change back
        before = {str(e) for e in missing_templates(rules.current, templates.current)}
        errors = [e for e in missing_templates(rules.current, fresh) if str(e) not in before]
        if errors:
            raise RuleSetError(
                [
                    RuleError(e.file, e.line, e.column, f"{e.message} (the rule is in force)")
                    for e in errors
                ]
            )

    templates.lock = rules.lock  # a check and the swap it allows happen under the one lock
    rules.check = rules_go_with_templates
    templates.check = templates_go_with_rules
