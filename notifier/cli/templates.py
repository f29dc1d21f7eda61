"""``notifier templates preview``: render one template as a channel would send it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from notifier.cli.inputs import read_object
from notifier.runtime.settings import Settings

if TYPE_CHECKING:
    from notifier.cli import Commands


def register(commands: Commands) -> None:
    from notifier.channels.registry import plugins
    from notifier.models import Need

    templates = commands.add_parser("templates", help="template tools")
    templates_commands = templates.add_subparsers(dest="templates_command", required=True)
    render = templates_commands.add_parser("preview", help="render one template")
    render.add_argument("name", help="template name, e.g. appointment_reminder")
    channels = [str(channel) for channel in plugins()]
    render.add_argument("--channel", choices=channels, default=channels[0])
    render.add_argument("--locale", default="fr")
    render.add_argument("--timezone", default="Europe/Paris")
    render.add_argument("--data", help="JSON file: the event's data, or a whole event")
    render.add_argument("--needs", nargs="*", choices=[str(need) for need in Need])
    render.add_argument("--templates", help="templates folder (default: NOTIFIER_TEMPLATES_DIR)")
    render.set_defaults(handler=cmd_templates_preview)


def cmd_templates_preview(settings: Settings, args: argparse.Namespace) -> int:
    from jinja2 import TemplateError

    from notifier.channels.registry import plugin
    from notifier.models import Channel, Need
    from notifier.templates.context import template_flags
    from notifier.templates.renderer import Renderer, TemplateMissingError

    data = read_object(Path(args.data)) if args.data else {}
    data = data.get("data", data)  # an event file works too
    needs = {Need(n) for n in args.needs or []}
    channel = Channel(args.channel)
    context = {
        "locale": args.locale,
        "timezone": args.timezone,
        "needs": template_flags(needs),
        "channel": channel.value,
        "data": data,
    }
    templates = Path(args.templates) if args.templates else settings.templates_dir
    try:
        parts = Renderer(templates).render(
            args.name, channel, args.locale, context, easy_read=Need.EASY_READ in needs
        )
    except (TemplateMissingError, TemplateError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    prepare = plugin(channel).prepare
    if prepare is not None:
        prepared = prepare(parts, needs, settings.sms_normalization)
        parts = prepared.parts
        print(f"# {prepared.report}" + (f"; {prepared.problem}" if prepared.problem else ""))
    for name, text in parts.items():
        print(f"--- {name}\n{text}")
    return 0
