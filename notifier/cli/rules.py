"""``notifier rules``: check rule files, preview the timeline of events, print their schema."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from notifier.cli.inputs import aware_time, read_model
from notifier.runtime.settings import Settings

if TYPE_CHECKING:
    from notifier.cli import Commands


def register(commands: Commands) -> None:
    rules = commands.add_parser("rules", help="rule file tools")
    rules_commands = rules.add_subparsers(dest="rules_command", required=True)
    check = rules_commands.add_parser("check", help="validate rule files, then warn")
    check.add_argument("dir", nargs="?", help="rules folder (default: NOTIFIER_RULES_DIR)")
    check.add_argument("--templates", help="templates folder (default: NOTIFIER_TEMPLATES_DIR)")
    check.add_argument(
        "--events",
        action="append",
        help="sample event file or folder, to check SMS lengths against max_sms_segments",
    )
    check.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    check.set_defaults(handler=cmd_rules_check)
    show = rules_commands.add_parser("preview", help="the timeline an event would produce")
    show.add_argument(
        "--event",
        required=True,
        action="append",
        help="an event as JSON (as posted to the API); repeat for events in order, each one "
        "cancelling or replacing what the ones before planned",
    )
    show.add_argument("--html", action="store_true", help="print the HTML of e-mails too")
    show.add_argument(
        "--now", type=aware_time, help="pretend it is this ISO 8601 time (default: now)"
    )
    show.add_argument("--dir", help="rules folder (default: NOTIFIER_RULES_DIR)")
    show.add_argument("--templates", help="templates folder (default: NOTIFIER_TEMPLATES_DIR)")
    show.set_defaults(handler=cmd_rules_preview)
    rules_commands.add_parser("schema", help="print the JSON Schema of rule files").set_defaults(
        handler=cmd_rules_schema
    )


def _load_events(paths: list[Path]) -> list[Any]:
    from notifier.models import Event

    files = [f for p in paths for f in (sorted(p.glob("*.json")) if p.is_dir() else [p])]
    return [read_model(f, Event) for f in files]


def cmd_rules_check(settings: Settings, args: argparse.Namespace) -> int:
    from notifier.rules.lint import lint
    from notifier.rules.loader import RuleSetError, load_rules
    from notifier.runtime.clock import utcnow

    folder = Path(args.dir) if args.dir else settings.rules_dir
    templates = Path(args.templates) if args.templates else settings.templates_dir
    try:
        ruleset = load_rules(folder)
    except RuleSetError as exc:
        print(exc, file=sys.stderr)
        print(f"{len(exc.errors)} error(s): these rules would be refused.", file=sys.stderr)
        return 1
    samples = _load_events([Path(e) for e in args.events or []])
    findings = lint(ruleset, templates, utcnow(), samples)
    for finding in findings:
        print(finding, file=sys.stderr)
    errors = [f for f in findings if f.severity == "error"]
    print(
        f"{len(ruleset.rules)} rules in {len(ruleset.files)} files, version {ruleset.version}; "
        f"{len(errors)} error(s), {len(findings) - len(errors)} warning(s)"
    )
    return 1 if errors or (findings and args.strict) else 0


def cmd_rules_preview(settings: Settings, args: argparse.Namespace) -> int:
    from notifier.rules.engine import EventDataError
    from notifier.rules.loader import RuleSetError, load_rules
    from notifier.rules.preview import preview
    from notifier.runtime.clock import utcnow
    from notifier.templates.renderer import Renderer

    try:
        ruleset = load_rules(Path(args.dir) if args.dir else settings.rules_dir)
    except RuleSetError as exc:
        print(exc, file=sys.stderr)
        return 1
    events = _load_events([Path(e) for e in args.event])
    now = args.now or utcnow()
    renderer = Renderer(Path(args.templates) if args.templates else settings.templates_dir)
    try:
        print(preview(events, ruleset, renderer, now, html=args.html))
    except EventDataError as exc:
        print(f"error: the event cannot be planned: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_rules_schema(settings: Settings, args: argparse.Namespace) -> int:
    from notifier.rules.schema import rule_file_json_schema

    print(rule_file_json_schema(), end="")
    return 0
