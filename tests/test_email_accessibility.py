"""Shipped HTML e-mails meet the accessibility rules the README promises.

Checked on the rendered HTML (stdlib parser), for every template, locale and reader:
``lang``; a plain-text part always; body text 16 px or more; contrast 4.5:1 or more;
layout tables presentational (and none at all for screen-reader users); no information only
in images; meaningful link text; data escaped.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from notifier.models import Channel, Need
from notifier.templates.context import template_flags
from notifier.templates.renderer import Renderer
from tests.support.builders import EXAMPLES, SAMPLES, shipped_templates

VAGUE_LINK_TEXT = {"ici", "cliquez ici", "lien", "en savoir plus", "here", "click here", "link"}


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.links: list[str] = []
        self._in_link = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "a":
            self._in_link = True
            self.links.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._in_link = False

    def handle_data(self, data: str) -> None:
        if self._in_link:
            self.links[-1] += data


def luminance(hex_color: str) -> float:
    rgb = [int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    high, low = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def render(name: str, locale: str, needs: frozenset[Need]) -> dict[str, str]:
    context = {
        "locale": locale,
        "timezone": "Europe/Paris",
        "needs": template_flags(needs),
        "data": SAMPLES[name],
        "channel": "email",
    }
    return Renderer(EXAMPLES / "templates").render(name, Channel.EMAIL, locale, context)


CASES = [
    (name, locale, needs)
    for name in shipped_templates(Channel.EMAIL)
    for locale in ("fr", "en")
    for needs in (frozenset(), frozenset({Need.SCREEN_READER}))
]


@pytest.mark.parametrize(
    ("name", "locale", "needs"),
    CASES,
    ids=[f"{n}-{loc}-{'sr' if needs else 'std'}" for n, loc, needs in CASES],
)
def test_html_email_is_accessible(name: str, locale: str, needs: frozenset[Need]) -> None:
    parts = render(name, locale, needs)
    assert parts["text"].strip(), "a plain-text part is always sent"
    page = Page()
    page.feed(parts["html"])
    html_tag = next(attrs for tag, attrs in page.tags if tag == "html")
    assert html_tag.get("lang") == locale
    styles = " ".join(attrs.get("style") or "" for _, attrs in page.tags)
    sizes = [int(px) for px in re.findall(r"font-size:\s*(\d+)px", styles)]
    assert sizes and min(sizes) >= 16
    colors = set(re.findall(r"(?<!-)color:\s*(#[0-9a-fA-F]{6})", styles))
    backgrounds = set(re.findall(r"background-color:\s*(#[0-9a-fA-F]{6})", styles)) or {"#ffffff"}
    assert colors
    for foreground in colors:
        for background in backgrounds:
            assert contrast(foreground, background) >= 4.5, (foreground, background)
    tables = [attrs for tag, attrs in page.tags if tag == "table"]
    assert all(t.get("role") == "presentation" for t in tables)
    if Need.SCREEN_READER in needs:
        assert tables == [], "screen-reader users get a single column without layout tables"
    assert all(attrs.get("alt") is not None for tag, attrs in page.tags if tag == "img")
    for text in page.links:
        words = text.strip().lower()
        assert words and words not in VAGUE_LINK_TEXT and not words.startswith("http")
    headings = [tag for tag, _ in page.tags if re.fullmatch(r"h[1-6]", tag)]
    assert headings[:1] == ["h1"]


def test_contrast_formula() -> None:
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert contrast("#777777", "#ffffff") < 4.5 < contrast("#1a1a1a", "#ffffff")


def test_data_is_escaped_in_html_but_not_in_sms() -> None:
    data = {**SAMPLES["appointment_reminder"], "unit": "<b>U</b>", "unit_phone": "<script>"}
    context = {
        "locale": "fr",
        "timezone": "Europe/Paris",
        "needs": template_flags(()),
        "data": data,
    }
    renderer = Renderer(EXAMPLES / "templates")
    html = renderer.render("appointment_reminder", Channel.EMAIL, "fr", context)["html"]
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;U" in html
    sms = renderer.render("appointment_reminder", Channel.SMS, "fr", context)["text"]
    assert "<b>U</b>" in sms
