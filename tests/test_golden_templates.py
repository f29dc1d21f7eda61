"""Golden tests: every shipped template, in each locale and variant, renders exactly as reviewed.

The expected texts live in ``tests/golden/``. After a deliberate change to a template, run
``UPDATE_GOLDEN=1 make test`` and review the diff of ``tests/golden/`` like any other change.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from notifier.models import Channel, Need
from notifier.templates.context import template_flags
from notifier.templates.renderer import OPTIONAL_PARTS, REQUIRED_PARTS, Renderer
from tests.support.builders import (
    LINKS,
    ROOT,
    SAMPLES,
    TEMPLATES,
    shipped_templates,
)

GOLDEN = ROOT / "tests" / "golden"
OPTIONAL = {"procedure_status"}  # rendered with an unsubscribe link, as optional news is
VARIANTS = {
    "fr": ("fr", False, False),
    "en": ("en", False, False),
    "fr-easy": ("fr", True, False),
    "fr-discreet": ("fr", False, True),
    "en-discreet": ("en", False, True),
}


def render_all(name: str, variant: str) -> dict[str, str]:
    locale, easy, discreet = VARIANTS[variant]
    renderer = Renderer(TEMPLATES)
    context = {
        "locale": locale,
        "timezone": "Europe/Paris",
        "needs": template_flags({Need.EASY_READ} if easy else ()),
        "data": SAMPLES[name],
        "links": LINKS if name in OPTIONAL else {"pages": LINKS["pages"]},
    }
    out = {}
    for channel in Channel:
        if renderer.template_path(name, channel, REQUIRED_PARTS[channel][0], locale) is None:
            continue
        parts = renderer.render(
            name,
            channel,
            locale,
            {**context, "channel": channel.value},
            easy_read=easy,
            discreet=discreet,
        )
        out |= {f"{channel.value}.{part}": text for part, text in parts.items()}
    return out


CASES = [(name, variant) for name in shipped_templates() for variant in VARIANTS]


def test_every_shipped_template_has_a_sample() -> None:
    assert set(shipped_templates()) == set(SAMPLES)


@pytest.mark.parametrize(("name", "variant"), CASES, ids=[f"{n}-{v}" for n, v in CASES])
def test_golden(name: str, variant: str) -> None:
    rendered = render_all(name, variant)
    folder = GOLDEN / name / variant
    if os.environ.get("UPDATE_GOLDEN"):
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.txt"):
            old.unlink()
        for key, text in rendered.items():
            (folder / f"{key}.txt").write_text(text + "\n", encoding="utf-8")
    expected = {p.stem: p.read_text(encoding="utf-8")[:-1] for p in folder.glob("*.txt")}
    assert rendered == expected


@pytest.mark.parametrize("name", shipped_templates(Channel.EMAIL))
def test_each_template_covers_fr_en_and_easy_read(name: str) -> None:
    renderer = Renderer(TEMPLATES)
    for channel in (Channel.SMS, Channel.EMAIL):
        for part in REQUIRED_PARTS[channel] + OPTIONAL_PARTS[channel][:1]:
            assert (TEMPLATES / name / "fr" / f"{channel.value}.{part}.j2").is_file()
            assert (TEMPLATES / name / "en" / f"{channel.value}.{part}.j2").is_file()
        for part in REQUIRED_PARTS[channel]:
            path = renderer.template_path(name, channel, part, "fr", easy_read=True)
            assert path == f"{name}/fr/easy/{channel.value}.{part}.j2"


# Abbreviations a screen reader spells out or misreads, and jargon citizens may not know.
FORBIDDEN = [
    r"\bRDV\b",
    r"\bn°",
    r"\bN°",
    r"\bcf\.",
    r"\betc\.",
    r"\bmin\b",
    r"\bTel\b",
    r"\bTél\b",
]


def shipped_files() -> list[Path]:
    return sorted(p for p in TEMPLATES.rglob("*.j2"))


@pytest.mark.parametrize("path", shipped_files(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_no_abbreviations_in_shipped_templates(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert [p for p in FORBIDDEN if re.search(p, text)] == []


@pytest.mark.parametrize("name", shipped_templates(Channel.EMAIL))
def test_easy_read_means_every_part(name: str) -> None:
    """The easy HTML says what the easy text says, not the standard wording."""
    import html

    easy, standard = render_all(name, "fr-easy"), render_all(name, "fr")
    assert easy["email.html"] != standard["email.html"]
    body = easy["email.html"].split("</h1>", 1)[1]
    visible = html.unescape(re.sub(r"<[^>]+>", "\n", body))
    visible_lines = [line.strip() for line in visible.splitlines() if line.strip()]
    text_lines = [line.strip() for line in easy["email.text"].splitlines() if line.strip()]
    assert visible_lines == text_lines


def test_without_the_easy_layout_an_easy_email_goes_as_text_only(tmp_path: Path) -> None:
    for relative, text in {
        "t/fr/email.subject.j2": "Objet",
        "t/fr/email.text.j2": "Texte standard",
        "t/fr/email.html.j2": "<p>Texte standard</p>",
        "t/fr/easy/email.text.j2": "Texte facile",
    }.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    context = {"locale": "fr", "timezone": "Europe/Paris", "needs": {}, "data": {}}
    parts = Renderer(tmp_path).render("t", Channel.EMAIL, "fr", context, easy_read=True)
    assert parts == {"subject": "Objet", "text": "Texte facile"}
