"""A templates folder loaded whole, checked and compiled: what every send renders from.

Layout of the folder::

    <template>/<locale>/<channel>.<part>.j2        e.g. appointment_reminder/fr/sms.text.j2
    <template>/<locale>/easy/<channel>.<part>.j2   the easy-to-read (FALC) variant
    <template>/<locale>/discreet/<channel>.<part>.j2  the discreet variant (safe contact):
                                                   whole per channel, never mixed with others
    _layouts/…, _partials/…                        shared pieces ({% extends %}, {% import %})

Parts per channel: sms → text; email → subject, text, html (optional); webpush → title,
body, url (optional).

:func:`load_templates` reads every file, compiles it, and refuses the folder with file:line
errors when a file does not compile, names an unknown channel or part, refers to a piece
that does not exist, or when a channel lacks a required part in a folder that has some of
its parts. Sends then use the compiled set in memory, so a broken edit on disk never
reaches them: the :class:`~notifier.runtime.reloading.Reloading` holder keeps the last good set.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import DictLoader, StrictUndefined, Template, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from notifier.channels.registry import plugins
from notifier.file_errors import RuleError, RuleSetError
from notifier.models import Channel
from notifier.templates.fields import required_fields
from notifier.templates.formatting import FILTERS
from notifier.templates.safe_links import FILTER as LINK_FILTER
from notifier.templates.safe_links import LinkAttributes, link, link_fields

DEFAULT_LOCALE = "fr"
EASY = "easy"
DISCREET = "discreet"
VARIANTS = (EASY, DISCREET)

# What each channel's templates render, as its plugin declares (notifier/channels/registry.py)
REQUIRED_PARTS: dict[Channel, tuple[str, ...]] = {
    channel: p.required_parts for channel, p in plugins().items()
}
OPTIONAL_PARTS: dict[Channel, tuple[str, ...]] = {
    channel: p.optional_parts for channel, p in plugins().items()
}
PART_FILE = re.compile(r"^(?P<channel>[a-z]+)\.(?P<part>[a-z]+)\.j2$")
LOCALE = re.compile(r"^[a-z]{2}(-[A-Z]{2})?$")


def locale_chain(locale: str) -> list[str]:
    """``en-GB`` → ``["en-GB", "en", "fr"]``: most specific first, French last."""
    chain = [locale]
    language = locale.split("-", 1)[0]
    if language != locale:
        chain.append(language)
    if DEFAULT_LOCALE not in chain:
        chain.append(DEFAULT_LOCALE)
    return chain


def template_files(folder: Path) -> list[Path]:
    """Every ``*.j2`` file under ``folder``, sorted. ``os.walk`` rather than ``rglob``, a
    third of its time: the templates' watcher lists the folder every second."""
    found = (
        Path(root, name)
        for root, _, names in os.walk(folder)
        for name in names
        if name.endswith(".j2")
    )
    return sorted(p for p in found if p.is_file())


def environment(sources: Mapping[str, str], filters: Mapping[str, Any]) -> SandboxedEnvironment:
    """The sandbox every template runs in: no Python internals, a missing variable is an
    error rather than an empty string, HTML parts autoescaped, links only https
    (:mod:`notifier.templates.safe_links`)."""
    env = SandboxedEnvironment(
        loader=DictLoader(dict(sources)),
        undefined=StrictUndefined,
        autoescape=lambda name: bool(name) and name.endswith(".html.j2"),
        auto_reload=False,
        cache_size=-1,
        keep_trailing_newline=False,
        extensions=[LinkAttributes],
    )
    env.filters.update(filters)
    env.filters[LINK_FILTER] = link
    return env


@dataclass(frozen=True)
class TemplateSet:
    folder: Path
    version: str
    env: SandboxedEnvironment = field(repr=False)
    files: frozenset[str] = field(repr=False)
    # template name → the event data fields its texts read unguarded, all locales and variants
    fields: Mapping[str, frozenset[str]] = field(repr=False)
    # template name → the event data fields its texts write as links (an href, a push's url)
    links: Mapping[str, frozenset[str]] = field(repr=False, default_factory=dict)

    def path(
        self, name: str, channel: Channel, part: str, locale: str, easy_read: bool = False
    ) -> str | None:
        """The file that renders this part, after locale and variant fallback; None if none."""
        for candidate in locale_chain(locale):
            folders = [f"{candidate}/{EASY}", candidate] if easy_read else [candidate]
            for folder in folders:
                path = f"{name}/{folder}/{channel.value}.{part}.j2"
                if path in self.files:
                    return path
        return None

    def discreet_folder(self, name: str, channel: Channel, locale: str) -> str | None:
        """The first ``<locale>/discreet`` folder of ``name`` with every required part of
        ``channel``, after locale fallback; None if there is none."""
        for candidate in locale_chain(locale):
            folder = f"{name}/{candidate}/{DISCREET}"
            required = REQUIRED_PARTS[channel]
            if all(f"{folder}/{channel.value}.{part}.j2" in self.files for part in required):
                return folder
        return None

    def get(self, path: str) -> Template:
        return self.env.get_template(path)

    def names(self) -> list[str]:
        return sorted({p.split("/", 1)[0] for p in self.files if not p.startswith("_")})


def load_templates(folder: Path, filters: Mapping[str, Any] | None = None) -> TemplateSet:
    """Every template under ``folder``, compiled; :class:`RuleSetError` with file:line if not.

    A folder whose files are byte for byte those of a set compiled before in this process
    (with the default filters) gets that set again: compiling ~150 files takes a second or
    more, and every renderer, API and reload of a process would otherwise pay it again.
    """
    if not folder.is_dir():
        raise RuleSetError([RuleError(str(folder), 0, 0, "templates folder not found")])
    sources: dict[str, str] = {}
    errors: list[RuleError] = []
    for path in template_files(folder):
        relative = path.relative_to(folder).as_posix()
        try:
            sources[relative] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            errors.append(RuleError(str(path), 1, 1, f"not UTF-8 text: {exc.reason}"))
    digest = hashlib.sha256()
    for relative in sorted(sources):
        digest.update(f"{relative}\0{sources[relative]}\0".encode())
    version = digest.hexdigest()[:12]
    if filters is not None or errors:
        return _compile(folder, sources, version, FILTERS if filters is None else filters, errors)
    key = (folder.resolve(), digest.hexdigest())
    if key not in _COMPILED:
        if len(_COMPILED) >= 8:  # a long-lived process that reloads often keeps the latest
            del _COMPILED[next(iter(_COMPILED))]
        _COMPILED[key] = _compile(folder, sources, version, FILTERS)
    return _COMPILED[key]


_COMPILED: dict[tuple[Path, str], TemplateSet] = {}


def _compile(
    folder: Path,
    sources: dict[str, str],
    version: str,
    filters: Mapping[str, Any],
    errors: list[RuleError] | None = None,
) -> TemplateSet:
    """The set of ``sources``, or :class:`RuleSetError` with ``errors`` (met reading them)
    and every problem found compiling them."""
    env = environment(sources, filters)
    errors = list(errors or [])
    parsed: dict[str, nodes.Template] = {}
    for relative, source in sources.items():
        where = str(folder / relative)
        errors += [RuleError(where, 1, 1, m) for m in _place_problems(relative)]
        try:
            parsed[relative] = env.parse(source, relative, relative)
            env.get_template(relative)  # compiles: unknown filters and tests are found here
        except TemplateSyntaxError as exc:
            errors.append(RuleError(where, exc.lineno, 1, f"template: {exc.message}"))
            continue
        for referenced in meta.find_referenced_templates(parsed[relative]):
            if referenced is not None and referenced not in sources:
                line = _line_of(source, referenced)
                errors.append(RuleError(where, line, 1, f"refers to {referenced!r}: no such file"))
    errors += _incomplete_channels(folder, set(sources))
    if errors:
        raise RuleSetError(errors)
    by_template: dict[str, set[str]] = {}
    links: dict[str, set[str]] = {}
    for relative, tree in parsed.items():
        if not relative.startswith("_"):
            name = relative.split("/", 1)[0]
            by_template.setdefault(name, set()).update(required_fields(tree, parsed.get))
            links.setdefault(name, set()).update(link_fields(tree, parsed.get))
    return TemplateSet(
        folder,
        version,
        env,
        frozenset(sources),
        {name: frozenset(found) for name, found in by_template.items()},
        {name: frozenset(found) for name, found in links.items()},
    )


def _line_of(source: str, text: str) -> int:
    index = source.find(text)
    return source.count("\n", 0, index) + 1 if index >= 0 else 1


def _place_problems(relative: str) -> list[str]:
    """Why a file is not where a part of a template can be, if it is not."""
    parts = relative.split("/")
    if parts[0].startswith("_"):
        return []  # a shared piece: anywhere under _layouts/, _partials/…
    if len(parts) not in (3, 4) or (len(parts) == 4 and parts[2] not in VARIANTS):
        return [
            "not a template part: expected "
            "<template>/<locale>/[easy/|discreet/]<channel>.<part>.j2, "
            "or a shared piece under a folder whose name starts with _"
        ]
    problems = []
    if not LOCALE.match(parts[1]):
        problems.append(f"{parts[1]!r} is not a locale such as fr or en-GB")
    match = PART_FILE.match(parts[-1])
    channels = {c.value: c for c in Channel}
    if match is None or match["channel"] not in channels:
        problems.append(f"unknown channel in {parts[-1]!r}: one of {', '.join(channels)}")
    else:
        channel = channels[match["channel"]]
        known = REQUIRED_PARTS[channel] + OPTIONAL_PARTS[channel]
        if match["part"] not in known:
            problems.append(
                f"{channel.value} has no part {match['part']!r}: its parts are {', '.join(known)}"
            )
    return problems


def _incomplete_channels(folder: Path, files: set[str]) -> list[RuleError]:
    """A folder with some parts of a channel must have all its required ones (a discreet
    variant too: it never borrows a part of the standard wording)."""
    errors = []
    present: dict[tuple[str, Channel], set[str]] = {}
    for relative in files:
        if relative.startswith("_") or _place_problems(relative) or f"/{EASY}/" in relative:
            continue  # an easy variant takes what it lacks from its standard text, part by part
        where, _, name = relative.rpartition("/")
        match = PART_FILE.match(name)
        assert match is not None
        present.setdefault((where, Channel(match["channel"])), set()).add(match["part"])
    for (where, channel), parts in sorted(present.items()):
        for missing in REQUIRED_PARTS[channel]:
            if missing not in parts:
                some = sorted(parts)[0]
                errors.append(
                    RuleError(
                        str(folder / where / f"{channel.value}.{some}.j2"),
                        1,
                        1,
                        f"{channel.value}.{some}.j2 without {channel.value}.{missing}.j2 "
                        f"beside it: every {channel.value} message needs both",
                    )
                )
    return errors
