"""Render a message's text from the compiled templates in force.

The folder's layout and checks are in :mod:`notifier.templates.catalog`. A locale without its
own files falls back to French; for a reader who asked for easy-to-read, each locale's easy
variant comes before its standard text, part by part.

Templates are content written by operations staff, not code: they run in Jinja2's sandbox
(no access to Python internals), a missing variable is an error rather than an empty string
(``StrictUndefined``), and HTML parts are autoescaped. The renderer looks for changed files
at most every ``reload_seconds`` and applies a change only if the whole folder still
compiles: a broken edit is refused (``last_error``) and sends keep the last good version.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from notifier.file_errors import RuleSetError
from notifier.models import Channel
from notifier.runtime.reloading import Reloading
from notifier.templates.catalog import (
    DEFAULT_LOCALE,
    EASY,
    OPTIONAL_PARTS,
    REQUIRED_PARTS,
    TemplateSet,
    load_templates,
    locale_chain,
    template_files,
)
from notifier.templates.discreet import generic
from notifier.templates.safe_links import check_url_part

__all__ = [
    "DEFAULT_LOCALE",
    "OPTIONAL_PARTS",
    "REQUIRED_PARTS",
    "Renderer",
    "TemplateMissingError",
    "locale_chain",
]


class TemplateMissingError(LookupError):
    """No template file for this name, channel and locale (nor the French fallback)."""


TemplatesHolder = Reloading[TemplateSet]


def templates_holder(folder: Path) -> TemplatesHolder:
    """The templates of ``folder``; :class:`RuleSetError` (file:line) if they do not compile."""
    return Reloading("templates", folder, load_templates, template_files)


class Renderer:
    def __init__(
        self,
        folder: Path | TemplatesHolder,
        *,
        reload_seconds: float = 0.0,
        rules: Reloading[Any] | None = None,
    ) -> None:
        """``rules``: the rules a change of templates is checked against (a worker's, see
        :func:`notifier.rules.pairing.pair`), reloaded first when they changed too."""
        self.holder = folder if isinstance(folder, Reloading) else templates_holder(folder)
        self.folder = self.holder.folder
        self.reload_seconds = reload_seconds
        self.rules = rules
        self._checked = time.monotonic()

    @property
    def current(self) -> TemplateSet:
        if self.reload_seconds > 0 and time.monotonic() - self._checked >= self.reload_seconds:
            self._checked = time.monotonic()
            if self.rules is not None:
                self.rules.reload_if_changed()
            self.holder.reload_if_changed()
        return self.holder.current

    @property
    def last_error(self) -> RuleSetError | None:
        return self.holder.last_error

    def template_path(
        self, name: str, channel: Channel, part: str, locale: str, easy_read: bool = False
    ) -> str | None:
        """The file that renders this part, after locale and variant fallback; None if none."""
        return self.current.path(name, channel, part, locale, easy_read)

    def render(
        self,
        name: str,
        channel: Channel,
        locale: str,
        context: dict[str, Any],
        *,
        easy_read: bool = False,
        discreet: bool = False,
    ) -> dict[str, str]:
        """Every part of ``name`` for ``channel``, rendered; raises if a required part is missing.

        ``context`` must hold ``locale`` and ``timezone`` (the recipient's) for the date filters.
        ``discreet``: the template's discreet variant, whole, else the generic discreet
        message; never a part of the standard wording.
        """
        templates = self.current
        if discreet:
            return _discreet(templates, name, channel, locale, context)
        parts: dict[str, str] = {}
        used: dict[str, str] = {}  # part → the file it was rendered from
        for part in REQUIRED_PARTS[channel] + OPTIONAL_PARTS[channel]:
            path = templates.path(name, channel, part, locale, easy_read)
            if path is None:
                if part in REQUIRED_PARTS[channel]:
                    tried = " or ".join(repr(c) for c in locale_chain(locale))
                    raise TemplateMissingError(
                        f"template {name!r} has no {channel.value}.{part}.j2 "
                        f"for locale {tried} under {self.folder}"
                    )
                continue
            if part == "html" and _is_easy(used["text"]) and not _is_easy(path):
                # the standard HTML beside an easy text: build the HTML from the easy text
                html = _easy_html(parts, context, templates)
                if html is not None:
                    parts["html"] = html
                continue
            used[part] = path
            parts[part] = templates.get(path).render(context).strip()
        if "url" in parts:  # a push's: the whole text is a link, whoever wrote it
            check_url_part(parts["url"])
        return parts


EASY_LAYOUT = "_layouts/easy_email.html.j2"


def _is_easy(path: str) -> bool:
    return f"/{EASY}/" in path


def _easy_html(
    parts: dict[str, str], context: dict[str, Any], templates: TemplateSet
) -> str | None:
    """The easy text as HTML, through ``_layouts/easy_email.html.j2``; None without that
    layout (the e-mail then goes as text only: never the standard wording)."""
    if EASY_LAYOUT not in templates.files:
        return None
    paragraphs = [p.split("\n") for p in re.split(r"\n\s*\n", parts["text"]) if p.strip()]
    layout = templates.get(EASY_LAYOUT)
    return layout.render({**context, "heading": parts["subject"], "paragraphs": paragraphs}).strip()


def _discreet(
    templates: TemplateSet, name: str, channel: Channel, locale: str, context: dict[str, Any]
) -> dict[str, str]:
    """The discreet variant's parts, from its one folder; else the generic discreet message."""
    folder = templates.discreet_folder(name, channel, locale)
    if folder is None:
        return generic(channel, locale, context.get("links") or {})
    parts = {}
    for part in REQUIRED_PARTS[channel] + OPTIONAL_PARTS[channel]:
        path = f"{folder}/{channel.value}.{part}.j2"
        text = templates.get(path).render(context).strip() if path in templates.files else ""
        if text or part in REQUIRED_PARTS[channel]:
            parts[part] = text
    return parts
