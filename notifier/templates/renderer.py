"""Render a message's text from ops-edited template files.

Layout of the templates folder::

    <template>/<locale>/<channel>.<part>.j2        e.g. appointment_reminder/fr/sms.text.j2
    <template>/<locale>/easy/<channel>.<part>.j2   the easy-to-read (FALC) variant
    _layouts/…                                     shared layouts ({% extends %})

Parts per channel: sms → text; email → subject, text, html (optional); webpush → title,
body, url (optional). A locale without its own files falls back to French; for a reader who
asked for easy-to-read, each locale's easy variant comes before its standard text.

Templates are content written by operations staff, not code: they run in Jinja2's sandbox
(no access to Python internals), a missing variable is an error rather than an empty string
(``StrictUndefined``), and HTML parts are autoescaped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateNotFound, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from notifier.models import Channel
from notifier.templates.formatting import format_date, format_time, format_when

DEFAULT_LOCALE = "fr"

REQUIRED_PARTS: dict[Channel, tuple[str, ...]] = {
    Channel.SMS: ("text",),
    Channel.EMAIL: ("subject", "text"),
    Channel.WEBPUSH: ("title", "body"),
}
OPTIONAL_PARTS: dict[Channel, tuple[str, ...]] = {
    Channel.SMS: (),
    Channel.EMAIL: ("html",),
    Channel.WEBPUSH: ("url",),
}


class TemplateMissingError(LookupError):
    """No template file for this name, channel and locale (nor the French fallback)."""


def _recipient_filter(function: Any) -> Any:
    """Make a formatting function a Jinja filter using the recipient's locale and time zone."""

    @pass_context
    def apply(context: Context, value: Any) -> str:
        spoken = bool(context.get("needs", {}).get("screen_reader"))
        return str(function(value, context["locale"], context["timezone"], spoken))

    return apply


def locale_chain(locale: str) -> list[str]:
    """``en-GB`` → ``["en-GB", "en", "fr"]``: most specific first, French last."""
    chain = [locale]
    language = locale.split("-", 1)[0]
    if language != locale:
        chain.append(language)
    if DEFAULT_LOCALE not in chain:
        chain.append(DEFAULT_LOCALE)
    return chain


class Renderer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env = SandboxedEnvironment(
            loader=FileSystemLoader(str(folder)),
            undefined=StrictUndefined,
            autoescape=lambda name: bool(name) and name.endswith(".html.j2"),
            auto_reload=True,
            keep_trailing_newline=False,
        )
        self.env.filters["date"] = _recipient_filter(format_date)
        self.env.filters["time"] = _recipient_filter(format_time)
        self.env.filters["when"] = _recipient_filter(format_when)

    def template_path(
        self, name: str, channel: Channel, part: str, locale: str, easy_read: bool = False
    ) -> str | None:
        """The file that renders this part, after locale and variant fallback; None if none."""
        for candidate in locale_chain(locale):
            folders = [f"{candidate}/easy", candidate] if easy_read else [candidate]
            for folder in folders:
                path = f"{name}/{folder}/{channel.value}.{part}.j2"
                if (self.folder / path).is_file():
                    return path
        return None

    def render(
        self,
        name: str,
        channel: Channel,
        locale: str,
        context: dict[str, Any],
        *,
        easy_read: bool = False,
    ) -> dict[str, str]:
        """Every part of ``name`` for ``channel``, rendered; raises if a required part is missing.

        ``context`` must hold ``locale`` and ``timezone`` (the recipient's) for the date filters.
        """
        parts: dict[str, str] = {}
        for part in REQUIRED_PARTS[channel] + OPTIONAL_PARTS[channel]:
            path = self.template_path(name, channel, part, locale, easy_read)
            if path is None:
                if part in REQUIRED_PARTS[channel]:
                    raise TemplateMissingError(
                        f"template {name!r} has no {channel.value}.{part}.j2 "
                        f"for locale {locale!r} or {DEFAULT_LOCALE!r} under {self.folder}"
                    )
                continue
            try:
                template = self.env.get_template(path)
            except TemplateNotFound as exc:  # removed between the check and the load
                raise TemplateMissingError(str(exc)) from exc
            parts[part] = template.render(context).strip()
        return parts
