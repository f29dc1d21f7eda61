"""Rule files: the shipped examples load, and every kind of mistake is reported at file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from notifier.cli import main
from notifier.rules.expressions import Immediately, Offset, parse_duration, parse_timing
from notifier.rules.loader import RuleSetError, load_rule_texts, load_rules
from tests.support.builders import EXAMPLES

BASE = "rules:\n  - id: a\n    trigger: [x.y]\n    template: t\n    channels: [sms]\n"


def errors_of(text: str, name: str = "broken.yaml") -> list[str]:
    with pytest.raises(RuleSetError) as caught:
        load_rule_texts([(name, text)])
    return [str(e) for e in caught.value.errors]


def test_example_rules_load() -> None:
    ruleset = load_rules(EXAMPLES / "rules")
    ids = {rule.id for rule in ruleset.rules}
    assert {"appointment-reminder-48h", "appointment-reminder-2h", "procedure-status"} <= ids
    assert len(ruleset.version) == 12


def test_version_changes_with_content_only() -> None:
    text = "rules:\n  - {id: a, trigger: [x.y], template: t, channels: [sms]}\n"
    one = load_rule_texts([("a.yaml", text)])
    again = load_rule_texts([("a.yaml", text)])
    changed = load_rule_texts([("a.yaml", text.replace("sms", "email"))])
    assert one.version == again.version != changed.version


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "rules:\n  - id: a\n    trigger: [x.y\n",
            "broken.yaml:4:1: error: YAML syntax",
            id="yaml-syntax",
        ),
        pytest.param(
            "rules:\n  - id: a\n    trigger: [x.y]\n    templat: t\n    channels: [sms]\n",
            "broken.yaml:4:5: error: unknown key 'templat'",
            id="unknown-key",
        ),
        pytest.param(
            "rules:\n  - id: a\n    trigger: [x.y]\n    template: t\n    channels: [sms]\n"
            "    at: 48 hours before data.starts_at\n",
            "broken.yaml:6:5: error: rules.0.at: '48 hours' is not a duration",
            id="at-bad-duration",
        ),
        pytest.param(
            "rules:\n  - id: a\n    trigger: [x.y]\n    template: t\n    channels: [sms]\n"
            "    at: 2h before starts_at\n",
            "broken.yaml:6:5: error: rules.0.at: 'starts_at' is not an event field",
            id="at-not-an-event-field",
        ),
        pytest.param(
            "rules:\n  - id: a\n    trigger: [x.y]\n    channels: [sms]\n",
            "broken.yaml:2:5: error: rules.0.template: this key is required",
            id="template-missing",
        ),
        pytest.param(
            "rules:\n  - id: a\n    trigger: [x.y]\n    template: t\n    channels: [fax]\n",
            "broken.yaml:5:16: error: rules.0.channels.0: Input should be 'sms', 'email'",
            id="unknown-channel",
        ),
        pytest.param(
            "rules:\n  - id: a\n    trigger: [x.y]\n    template: t\n    channels: [sms, sms]\n",
            "broken.yaml:5:5: error: rules.0.channels: a channel is listed twice",
            id="channel-twice",
        ),
        pytest.param(
            "rules:\n  - id: a\n    trigger: [x.y]\n    trigger: [z.w]\n    template: t\n"
            "    channels: [sms]\n",
            "broken.yaml:4:5: error: key 'trigger' appears twice",
            id="key-twice",
        ),
        pytest.param(
            "rules:\n  - id: a\n    trigger: [Appointment Booked]\n    template: t\n"
            "    channels: [sms]\n",
            "broken.yaml:3:15: error: rules.0.trigger.0: String should match pattern",
            id="trigger-not-a-name",
        ),
        pytest.param(
            "- just a list\n",
            "broken.yaml:1:1: error: a rule file is a mapping with a 'rules:' list",
            id="not-a-mapping",
        ),
        pytest.param(
            BASE + "    at: next week\n",
            "broken.yaml:6:5: error: rules.0.at: cannot read timing",
            id="at-unreadable",
        ),
        pytest.param(
            BASE + "    at: 1 day before data.starts_at at 25:00\n",
            "broken.yaml:6:5: error: rules.0.at: '25:00' is not a time of day",
            id="at-bad-time-of-day",
        ),
        pytest.param(
            BASE + "    at: immediately\n    every: {cron: '0 9 * * MON'}\n",
            "broken.yaml:2:5: error: rules.0: a rule has either 'at' (once) or 'every'",
            id="at-and-every",
        ),
        pytest.param(
            BASE + "    grace: 1h\n",
            "broken.yaml:2:5: error: rules.0: 'grace' only applies with 'if_past: send'",
            id="grace-without-send",
        ),
        pytest.param(
            BASE + "    every: {cron: '0 9 * *'}\n",
            "broken.yaml:6:13: error: rules.0.every.cron: '0 9 * *' is not a five-field cron",
            id="cron-four-fields",
        ),
        pytest.param(
            BASE + "    every: {cron: '0 9 * * MON', until: closes_at}\n",
            "broken.yaml:6:34: error: rules.0.every.until: 'closes_at' is not an event field",
            id="until-not-an-event-field",
        ),
        pytest.param(
            BASE + "    quiet_hours: {start: '9pm', end: '08:00'}\n",
            "broken.yaml:6:19: error: rules.0.quiet_hours.start: '9pm' is not a time",
            id="quiet-hours-bad-time",
        ),
        pytest.param(
            BASE + "    cap: {max: 2, per: 0h}\n",
            "broken.yaml:6:19: error: rules.0.cap.per: the cap's period must be longer than zero",
            id="cap-zero-period",
        ),
        pytest.param(
            BASE + "    quiet_hours: sometimes\n",
            "broken.yaml:6:5: error: rules.0.quiet_hours: Input should be 'off'",
            id="quiet-hours-bad-value",
        ),
        pytest.param(
            BASE + "    expires: soon\n",
            "broken.yaml:6:5: error: rules.0.expires: 'soon' is not",
            id="expires-unreadable",
        ),
        pytest.param(
            BASE + "    when: [{field: data.a}]\n",
            "broken.yaml:6:12: error: rules.0.when.0: a condition needs exactly one operator",
            id="condition-without-operator",
        ),
        pytest.param(
            BASE + "    if_past: later\n",
            "broken.yaml:6:5: error: rules.0.if_past: Input should be 'skip' or 'send'",
            id="if-past-bad-value",
        ),
    ],
)
def test_errors_name_file_line_and_column(text: str, expected: str) -> None:
    assert any(message.startswith(expected) for message in errors_of(text)), errors_of(text)


def test_duplicate_rule_id_across_files_names_the_second_file() -> None:
    text = "rules:\n  - {id: a, trigger: [x.y], template: t, channels: [sms]}\n"
    with pytest.raises(RuleSetError) as caught:
        load_rule_texts([("one.yaml", text), ("two.yaml", "\n" + text)])
    (error,) = caught.value.errors
    assert str(error).startswith("two.yaml:3:")
    assert "already used in one.yaml" in error.message


def test_one_bad_file_loads_nothing(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(
        "rules:\n  - {id: a, trigger: [x.y], template: t, channels: [sms]}\n"
    )
    (tmp_path / "bad.yaml").write_text("rules: [\n")
    with pytest.raises(RuleSetError) as caught:
        load_rules(tmp_path)
    assert str(caught.value).startswith(str(tmp_path / "bad.yaml"))


def test_timing_parsing() -> None:
    assert parse_timing("immediately") == Immediately()
    offset = parse_timing("1h30m before data.starts_at")
    assert isinstance(offset, Offset)
    assert offset.delta.total_seconds() == -5400 and offset.field == "data.starts_at"
    assert parse_timing("1d after occurred_at").delta.total_seconds() == 86400  # type: ignore[union-attr]
    assert parse_duration("2h 15m").total_seconds() == 8100
    with pytest.raises(ValueError, match="cannot read timing"):
        parse_timing("tomorrow")


def test_rules_check_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", str(EXAMPLES / "rules")]) == 0
    assert "rules in 2 files" in capsys.readouterr().out
    (tmp_path / "bad.yaml").write_text("rules:\n  - id: a\n")
    assert main(["rules", "check", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'bad.yaml'}:2:5: error: rules.0.trigger: this key is required" in err


def test_defaults_in_two_files_is_an_error() -> None:
    defaults = "defaults:\n  quiet_hours: 'off'\n"
    with pytest.raises(RuleSetError) as caught:
        load_rule_texts([("a.yaml", defaults), ("b.yaml", defaults)])
    assert str(caught.value) == (
        "b.yaml:1:1: error: 'defaults' is already set in a.yaml; keep it in one file"
    )


def test_missing_rules_folder(tmp_path: Path) -> None:
    with pytest.raises(RuleSetError, match="rules folder not found"):
        load_rules(tmp_path / "nope")
