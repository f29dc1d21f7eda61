"""Template rendering: French dates, locale fallback, strictness, and the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2 import UndefinedError
from jinja2.exceptions import SecurityError

from notifier.models import Channel
from notifier.templates.context import template_flags
from notifier.templates.formatting import format_time, format_when
from notifier.templates.renderer import Renderer, TemplateMissingError, locale_chain
from tests.support.builders import EXAMPLES

PARIS = {"locale": "fr", "timezone": "Europe/Paris", "needs": template_flags(())}


def write(folder: Path, relative: str, text: str) -> None:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_french_date_in_recipient_time_zone() -> None:
    assert format_when("2026-06-12T08:30:00+00:00", "fr", "Europe/Paris") == (
        "vendredi 12 juin 2026 à 10 h 30"
    )
    assert format_time("2026-06-12T08:00:00Z", "fr", "Europe/Paris") == "10 h"
    assert format_time("2026-06-12T08:00:00Z", "fr", "Indian/Reunion") == "12 h"
    assert format_when("2026-06-12T08:30:00Z", "en", "Europe/London").endswith("at 9:30 AM")


def test_naive_date_is_an_error() -> None:
    with pytest.raises(ValueError, match="no UTC offset"):
        format_when("2026-06-12T08:30:00", "fr", "Europe/Paris")


def test_locale_chain_falls_back_to_french() -> None:
    assert locale_chain("en-GB") == ["en-GB", "en", "fr"]
    assert locale_chain("fr") == ["fr"]


def test_example_reminder_renders_sms_and_email() -> None:
    renderer = Renderer(EXAMPLES / "templates")
    context = {
        **PARIS,
        "data": {
            "starts_at": "2026-06-12T08:30:00+00:00",
            "unit": "Brigade de Paris 7e",
            "address": "12 rue Exemple, 75007 Paris",
        },
    }
    sms = renderer.render("appointment_reminder", Channel.SMS, "fr", context)
    assert sms == {
        "text": "Gendarmerie : rappel de votre rendez-vous le vendredi 12 juin 2026 à 10 h 30, "
        "Brigade de Paris 7e, 12 rue Exemple, 75007 Paris. Pensez à votre pièce d'identité."
    }
    email = renderer.render("appointment_reminder", Channel.EMAIL, "de", context)
    assert email["subject"] == "Rappel : votre rendez-vous du vendredi 12 juin 2026"
    assert set(email) == {"subject", "text", "html"}


def test_missing_variable_is_an_error_not_an_empty_string(tmp_path: Path) -> None:
    write(tmp_path, "t/fr/sms.text.j2", "Bonjour {{ data.name }}")
    with pytest.raises(UndefinedError):
        Renderer(tmp_path).render("t", Channel.SMS, "fr", {**PARIS, "data": {}})


def test_missing_template_names_what_is_missing(tmp_path: Path) -> None:
    write(tmp_path, "t/fr/sms.text.j2", "Texte")
    with pytest.raises(
        TemplateMissingError, match=r"no email\.subject\.j2 for locale 'en' or 'fr'"
    ):
        Renderer(tmp_path).render("t", Channel.EMAIL, "en", PARIS)
    with pytest.raises(TemplateMissingError, match=r"no email\.subject\.j2 for locale 'fr' under"):
        Renderer(tmp_path).render("t", Channel.EMAIL, "fr", PARIS)


def test_locale_specific_file_wins(tmp_path: Path) -> None:
    write(tmp_path, "t/fr/sms.text.j2", "Bonjour")
    write(tmp_path, "t/en/sms.text.j2", "Hello")
    renderer = Renderer(tmp_path)
    assert renderer.render("t", Channel.SMS, "en-GB", PARIS) == {"text": "Hello"}
    assert renderer.render("t", Channel.SMS, "de", PARIS) == {"text": "Bonjour"}


def test_html_part_is_autoescaped_text_is_not(tmp_path: Path) -> None:
    write(tmp_path, "t/fr/email.subject.j2", "{{ data.x }}")
    write(tmp_path, "t/fr/email.text.j2", "{{ data.x }}")
    write(tmp_path, "t/fr/email.html.j2", "<p>{{ data.x }}</p>")
    parts = Renderer(tmp_path).render("t", Channel.EMAIL, "fr", {**PARIS, "data": {"x": "<b>"}})
    assert parts == {"subject": "<b>", "text": "<b>", "html": "<p>&lt;b&gt;</p>"}


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param("{{ ''.__class__.__mro__[1].__subclasses__() }}", id="mro-subclasses"),
        pytest.param(
            "{{ cycler.__init__.__globals__.os.popen('id').read() }}", id="cycler-globals-os"
        ),
        pytest.param("{{ data.__class__.__init__.__globals__ }}", id="lookup-through-data"),
        pytest.param("{{ self.__init__.__globals__.__builtins__ }}", id="self-builtins"),
        pytest.param("{{ lipsum.__globals__['os'].popen('id').read() }}", id="lipsum-globals-os"),
        pytest.param("{{ joiner.__init__.__globals__.os.system('id') }}", id="joiner-globals-os"),
        pytest.param(
            "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
            id="loop-over-subclasses",
        ),
        pytest.param(
            "{{ ().__class__.__bases__[0].__subclasses__() }}", id="tuple-bases-subclasses"
        ),
        pytest.param("{{ data.items.__self__.__class__ }}", id="bound-method-self"),
        pytest.param("{{ config.items() }}", id="config-object"),
        pytest.param("{{ request.application.__globals__ }}", id="request-object"),
    ],
)
def test_template_injection_payloads_cannot_reach_python(tmp_path: Path, payload: str) -> None:
    write(tmp_path, "t/fr/sms.text.j2", payload)
    with pytest.raises((SecurityError, UndefinedError)):
        Renderer(tmp_path).render("t", Channel.SMS, "fr", {**PARIS, "data": {"k": "v"}})


def test_templates_preview_command(capsys: pytest.CaptureFixture[str]) -> None:
    from notifier.cli import main

    event = str(EXAMPLES / "events" / "appointment-booked.json")
    args = ["templates", "preview", "appointment_reminder", "--data", event]
    assert main([*args, "--templates", str(EXAMPLES / "templates")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# GSM-7, 2 segments")
    assert "rappel de votre rendez-vous le jeudi 10 décembre 2026 à 10 h 30" in out
    assert main([*args, "--needs", "easy_read", "--channel", "email", "--locale", "en"]) == 0
    out = capsys.readouterr().out
    assert "--- subject\nReminder: your appointment on Thursday 10 December 2026" in out
    assert "--- html\n<!DOCTYPE html>" in out
    assert main(["templates", "preview", "document_available", "--data", event]) == 1
    assert "document_label" in capsys.readouterr().err
