"""`notifier rules check` warnings, `rules preview`, and the published JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from notifier.cli import main
from notifier.rules.lint import lint
from notifier.rules.schema import rule_file_json_schema
from tests.support.builders import EXAMPLES, NOW, ROOT, make_event, rules_from

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
        (
            rule("    cancel_on: [x.z]\n"),
            "r: cancel_on names 'x.z', which no rule triggers on (nor any sample event: --events)",
        ),
    ],
    ids=["never-matches-cancelled", "empty-in", "equals-twice", "cron-never", "cancel-on-nobody"],
)
def test_each_warning(rules_yaml: str, message: str) -> None:
    found = warnings_for(rules_yaml)
    assert any(f"test.yaml:2:5: warning: {message}" in w for w in found), found


@pytest.mark.parametrize(
    ("template", "channels", "message"),
    [
        ("nope", "[sms]", "r: no template 'nope' in "),
        (
            "appointment_reminder",
            "[sms, webpush]",
            "r: template 'appointment_reminder' has no webpush.title.j2 in French (fr), the "
            "fallback of every locale",
        ),
    ],
    ids=["no-such-template", "no-part-of-a-channel"],
)
def test_a_template_that_cannot_render_is_an_error(
    template: str, channels: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "r.yaml").write_text(rule(template=template, channels=channels))
    assert main(["rules", "check", str(tmp_path), "--templates", str(TEMPLATES)]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'r.yaml'}:2:5: error: {message}" in err, err
    assert "'fr' or 'fr'" not in err


def test_a_cancel_on_typo_is_reported_with_a_near_match() -> None:
    rules_yaml = (
        "rules:\n"
        "  - {id: booked, trigger: [appointment.booked], template: procedure_status, "
        "channels: [sms], cancel_on: [appointment.canceled]}\n"
        "  - {id: cancelled, trigger: [appointment.cancelled], template: procedure_status, "
        "channels: [sms]}\n"
    )
    found = warnings_for(rules_yaml)
    (typo,) = [w for w in found if "cancel_on names" in w]
    assert "booked: cancel_on names 'appointment.canceled'" in typo
    assert "did you mean 'appointment.cancelled'?" in typo
    assert not [w for w in found if "trigger names" in w]  # triggers: only with samples


def test_a_trigger_no_sample_has_is_reported_with_samples_only() -> None:
    rules_yaml = rule().replace("[x.y]", "[procedure.status_chnaged]")
    sample = make_event(
        type="procedure.status_changed", data={"reference": "R", "status_label": "S"}
    )
    (warning,) = warnings_for(rules_yaml, samples=(sample,))
    assert (
        "r: trigger names 'procedure.status_chnaged', which no other rule names and no " in warning
    )
    assert "did you mean 'procedure.status_changed'?" in warning
    assert warnings_for(rules_yaml) == []
    wildcard = make_event(type="procedure.closed", data={"reference": "R", "status_label": "S"})
    assert warnings_for(rule().replace("[x.y]", "[procedure.*]"), samples=(wildcard,)) == []


def test_missing_locale_warnings(tmp_path: Path) -> None:
    (tmp_path / "t" / "en").mkdir(parents=True)
    (tmp_path / "t" / "en" / "sms.text.j2").write_text("Hi")
    found = warnings_for(rule(template="t", channels="[sms, email]"), tmp_path)
    assert any("error: r: template 't' has no sms.text.j2 in French (fr)" in w for w in found)
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
    (tmp_path / "r.yaml").write_text(rule("    every: {cron: '0 0 30 2 *'}\n"))
    assert main(["rules", "check", str(tmp_path), "--templates", str(TEMPLATES)]) == 0
    assert main(["rules", "check", str(tmp_path), "--templates", str(TEMPLATES), "--strict"]) == 1
    assert "warning: r: cron expression" in capsys.readouterr().err


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
    assert "nothing to replace or cancel: nothing is pending on appointment:BRG-75-00042" in out
    assert "replaced by" not in out
    assert "html: " in out and "lines (--html shows them)" in out and "<html" not in out


def test_preview_of_events_in_order_cancels_what_the_first_planned(
    capsys: pytest.CaptureFixture[str],
) -> None:
    events = [EXAMPLES / "events" / f"appointment-{e}.json" for e in ("booked", "cancelled")]
    args = ["rules", "preview", "--now", "2026-12-01T09:00:00+01:00"]
    args += ["--dir", str(EXAMPLES / "rules"), "--templates", str(TEMPLATES)]
    assert main([*args, "--event", str(events[0]), "--event", str(events[1]), "--html"]) == 0
    out = capsys.readouterr().out
    _, after_cancel = out.split("event demo-cancelled-1")
    assert "cancels or replaces what is pending:" in after_cancel
    assert (
        "  - appointment-reminder-48h due Tue 2026-12-08 10:30 CET "
        "(cancelled by appointment.cancelled)" in after_cancel
    )
    assert "nothing to replace" not in after_cancel
    assert "<html" in out  # asked for


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
