"""`notifier rules check` warnings, `rules preview`, and the published JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from notifier.cli import main
from notifier.rules.lint import lint
from notifier.rules.schema import rule_file_json_schema
from tests.conftest import EXAMPLES, NOW, ROOT, make_event, rules_from

TEMPLATES = EXAMPLES / "templates"


def warnings_for(rules_yaml: str, templates: Path = TEMPLATES, samples: tuple = ()) -> list[str]:
    return [str(w) for w in lint(rules_from(rules_yaml), templates, NOW, samples)]


def rule(extra: str = "", template: str = "procedure_status", channels: str = "[sms]") -> str:
    return (
        f"rules:\n  - id: r\n    trigger: [x.y]\n    template: {template}\n"
        f"    channels: {channels}\n{extra}"
    )


def test_shipped_rules_have_no_warnings() -> None:
    from notifier.rules.loader import load_rules

    samples = [
        make_event().model_validate_json(p.read_text())
        for p in sorted((EXAMPLES / "events").glob("*.json"))
    ]
    assert lint(load_rules(EXAMPLES / "rules"), TEMPLATES, NOW, samples) == []


@pytest.mark.parametrize(
    ("rules_yaml", "message"),
    [
        (rule(template="nope"), "r: unknown template 'nope': no folder"),
        (
            rule(template="appointment_reminder", channels="[sms, webpush]"),
            "r: template 'appointment_reminder' lacks webpush title, body for locale 'fr'",
        ),
        (
            rule("    cancel_on: [x.*]\n"),
            "r: rule can never match: every trigger (x.y) is also in cancel_on",
        ),
        (rule("    when: [{field: data.a, in: []}]\n"), "r: rule can never match: 'in' on data.a"),
        (
            rule("    when: [{field: data.a, equals: 1}, {field: data.a, equals: 2}]\n"),
            "r: rule can never match: data.a must equal both 1 and 2",
        ),
        (rule("    every: {cron: '0 0 30 2 *'}\n"), "r: cron expression '0 0 30 2 *' never fires"),
    ],
)
def test_each_warning(rules_yaml: str, message: str) -> None:
    found = warnings_for(rules_yaml)
    assert any(f"test.yaml:2:5: warning: {message}" in w for w in found), found


def test_missing_locale_and_french_warnings(tmp_path: Path) -> None:
    (tmp_path / "t" / "en").mkdir(parents=True)
    (tmp_path / "t" / "en" / "sms.text.j2").write_text("Hi")
    found = warnings_for(rule(template="t", channels="[sms, email]"), tmp_path)
    assert any("template 't' has no French (fr) version" in w for w in found)
    assert any(
        "lacks email subject, text for locale 'en' (French will be used)" in w for w in found
    )
    (tmp_path / "t" / "fr").mkdir()
    (tmp_path / "t" / "fr" / "email.subject.j2").write_text("Objet")
    (tmp_path / "t" / "fr" / "email.text.j2").write_text("Texte")
    found = warnings_for(rule(template="t", channels="[email]"), tmp_path)
    assert any("template 't' has no easy-to-read variant (fr/easy/)" in w for w in found)


def test_sms_over_budget_is_reported_from_a_sample_event() -> None:
    rules_yaml = rule("    max_sms_segments: 1\n")
    long_label = "une étape longue " * 12
    sample = make_event(type="x.y", data={"reference": "R-1", "status_label": long_label})
    (warning,) = warnings_for(rules_yaml, samples=(sample,))
    assert "r: SMS for sample evt-1 takes 2 segments (GSM-7" in warning
    assert "over the budget of 1" in warning


def test_sample_that_cannot_render_is_reported() -> None:
    sample = make_event(type="x.y", data={})
    found = warnings_for(rule("    max_sms_segments: 1\n"), samples=(sample,))
    (warning,) = [w for w in found if "warning:" in w]
    assert "r: cannot render for evt-1" in warning and "reference" in warning
    assert any("error: r: template 'procedure_status' reads data.reference" in w for w in found)


def test_check_strict_fails_on_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "r.yaml").write_text(rule(template="nope"))
    assert main(["rules", "check", str(tmp_path)]) == 0
    assert main(["rules", "check", str(tmp_path), "--strict"]) == 1
    assert "warning: r: unknown template 'nope'" in capsys.readouterr().err


def test_preview_prints_the_timeline(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "rules",
            "preview",
            "--event",
            str(EXAMPLES / "events" / "appointment-booked.json"),
            "--now",
            "2026-12-08T21:30:00+01:00",
            "--dir",
            str(EXAMPLES / "rules"),
            "--templates",
            str(TEMPLATES),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    # confirmation due now, in quiet hours: deferred to 08:00 the next morning
    assert "1. appointment-confirmation: Wed 2026-12-09 08:00 CET" in out
    assert "2. appointment-reminder-2h: Thu 2026-12-10 08:30 CET" in out
    assert "sms (GSM-7, 2 segments, 176 characters):" in out
    assert "subject: Rappel : votre rendez-vous du jeudi 10 décembre 2026" in out
    assert "appointment-reminder-48h: due time 2026-12-08T10:30:00+01:00 is already past" in out
    assert "rule appointment-reminder-2h on appointment:BRG-75-00042 (replaced by" in out


def test_preview_names_a_missing_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    event = json.loads((EXAMPLES / "events" / "appointment-booked.json").read_text())
    del event["data"]["starts_at"]
    (tmp_path / "e.json").write_text(json.dumps(event))
    assert main(["rules", "preview", "--event", str(tmp_path / "e.json")]) == 1
    assert "data.starts_at: required" in capsys.readouterr().err


def test_published_json_schema_is_up_to_date() -> None:
    published = (ROOT / "docs" / "rules.schema.json").read_text()
    assert published == rule_file_json_schema(), (
        "run: notifier rules schema > docs/rules.schema.json"
    )
    schema = json.loads(published)
    assert "trigger" in schema["$defs"]["Rule"]["properties"]


def test_an_easy_variant_lacking_a_part_is_reported(tmp_path: Path) -> None:
    for relative in ["sms.text", "email.subject", "email.text", "email.html", "webpush.url"]:
        (tmp_path / "t" / "fr" / "easy").mkdir(parents=True, exist_ok=True)
        (tmp_path / "t" / "fr" / f"{relative}.j2").write_text("x")
    for relative in ["sms.text", "email.text"]:
        (tmp_path / "t" / "fr" / "easy" / f"{relative}.j2").write_text("x")
    found = warnings_for(rule(template="t", channels="[sms, email]"), tmp_path)
    (easy,) = [w for w in found if "easy-to-read variant of" in w]
    assert "lacks email.subject: readers who asked for it get the standard wording" in easy
