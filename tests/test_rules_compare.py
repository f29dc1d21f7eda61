"""Ordering conditions compare like with like: a table of every operator and type pair."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from notifier.rules.compare import literal_kind, ordered
from notifier.rules.engine import plan
from notifier.rules.loader import RuleSetError
from tests.support.builders import NOW, make_event, one_rule

PARIS_SUMMER = timezone(timedelta(hours=2))

# (actual, literal, expected result for gt, gte, lt, lte)
CASES: list[tuple[str, Any, Any, tuple[bool, bool, bool, bool]]] = [
    ("int > int", 10, 9, (True, True, False, False)),
    ("int = int", 3, 3, (False, True, False, True)),
    ("float < int", 2.5, 3, (False, False, True, True)),
    ("int = float", 3, 3.0, (False, True, False, True)),
    ("numeric string > number", "10", 9, (True, True, False, False)),  # was False as text
    ("numeric string < number", "9", 10, (False, False, True, True)),  # was True as text
    ("padded numeric string", " 10 ", 9, (True, True, False, False)),
    ("word vs number", "high", 9, (False, False, False, False)),
    ("bool vs number", True, 0, (False, False, False, False)),
    ("null vs number", None, 0, (False, False, False, False)),
    ("list vs number", [1], 0, (False, False, False, False)),
    ("nan string vs number", "nan", 0, (False, False, False, False)),
    ("date-time vs number", "2026-06-12T10:30:00+02:00", 9, (False, False, False, False)),
    (
        "same instant, other offsets",
        "2026-06-12T10:30:00+02:00",
        "2026-06-12T08:30:00Z",
        (False, True, False, True),
    ),
    (
        "later instant, earlier as text",
        "2026-06-12T09:00:00+00:00",
        "2026-06-12T10:30:00+02:00",  # 08:30 UTC: as text "09" < "10"
        (True, True, False, False),
    ),
    (
        "aware datetime object vs instant",
        datetime(2026, 6, 12, 8, 30, tzinfo=UTC),
        "2026-06-12T10:30:00+02:00",
        (False, True, False, True),
    ),
    ("naive date-time vs instant", "2026-06-12T10:30:00", "2026-06-12T08:30:00Z", (False,) * 4),
    ("number vs instant", 5, "2026-06-12T08:30:00Z", (False,) * 4),
    ("word vs instant", "soon", "2026-06-12T08:30:00Z", (False,) * 4),
    ("date vs date", "2026-06-12", "2026-06-11", (True, True, False, False)),
    (
        "date-time vs date, by its local date",
        "2026-06-12T00:30:00+02:00",  # 11 June in UTC, 12 June where it was written
        "2026-06-12",
        (False, True, False, True),
    ),
    (
        "datetime object vs date",
        datetime(2026, 6, 10, tzinfo=PARIS_SUMMER),
        "2026-06-12",
        (
            False,
            False,
            True,
            True,
        ),
    ),
    ("number vs date", 20260612, "2026-06-12", (False,) * 4),
    ("text vs text", "b", "a", (True, True, False, False)),
    ("text = text", "a", "a", (False, True, False, True)),
    ("text is by code point", "Z", "a", (False, False, True, True)),
    ("number vs text", 5, "a", (False,) * 4),
    ("bool vs text", False, "a", (False,) * 4),
]


@pytest.mark.parametrize(
    ("actual", "literal", "results"),
    [pytest.param(a, lit, r, id=name) for name, a, lit, r in CASES],
)
@pytest.mark.parametrize("index_operator", list(enumerate(["gt", "gte", "lt", "lte"])), ids=str)
def test_ordered(
    actual: Any, literal: Any, results: tuple[bool, ...], index_operator: tuple[int, str]
) -> None:
    index, operator = index_operator
    assert ordered(actual, operator, literal) is results[index]


@pytest.mark.parametrize(
    ("literal", "kind"),
    [
        pytest.param(2, "number", id="integer"),
        pytest.param(2.5, "number", id="float"),
        pytest.param("2026-06-12T08:30:00Z", "instant", id="instant-utc"),
        pytest.param("2026-06-12T10:30:00+02:00", "instant", id="instant-offset"),
        pytest.param("2026-06-12", "date", id="date"),
        pytest.param("B", "text", id="letter"),
        pytest.param("2026-06", "text", id="year-month"),
    ],
)
def test_literal_kind(literal: Any, kind: str) -> None:
    assert literal_kind(literal) == kind


@pytest.mark.parametrize(
    ("condition", "error"),
    [
        pytest.param("{field: data.level, gt: '10'}", "number in quotes", id="number-in-quotes"),
        pytest.param(
            "{field: data.at, lt: '2026-06-12T10:30:00'}",
            "no UTC offset",
            id="instant-without-offset",
        ),
        pytest.param("{field: data.flag, gte: true}", "not true/false", id="boolean-compared"),
        pytest.param(
            "{field: occurred_at, lt: 5}",
            "occurred_at is a date-time",
            id="occurred-at-with-number",
        ),
        pytest.param(
            "{field: occurred_at, lt: abc}",
            "occurred_at is a date-time",
            id="occurred-at-with-text",
        ),
    ],
)
def test_ambiguous_literal_is_a_rule_error_with_its_line(condition: str, error: str) -> None:
    with pytest.raises(RuleSetError, match=error) as caught:
        one_rule(f"    trigger: [x.y]\n    when:\n      - {condition}\n")
    assert caught.value.errors[0].line == 7  # the condition's line in the rule file


def test_a_condition_through_the_engine() -> None:
    rules = one_rule("    trigger: [x.y]\n    when: [{field: data.count, gt: 9}]\n")
    assert plan(make_event(type="x.y", data={"count": "10"}), rules, NOW).messages
    assert not plan(make_event(type="x.y", data={"count": "8"}), rules, NOW).messages


def test_rules_check_reports_a_sample_field_of_another_kind(tmp_path: Any) -> None:
    from notifier.rules.lint import lint

    rules = one_rule("    trigger: [x.y]\n    when: [{field: data.priority, gte: 2}]\n")
    (tmp_path / "t" / "fr").mkdir(parents=True)  # the rule's template exists: not the finding
    (tmp_path / "t" / "fr" / "sms.text.j2").write_text("Priorité {{ data.priority }}")
    fine = make_event(id="fine", type="x.y", data={"priority": 3})
    other = make_event(id="dated", type="x.y", data={"priority": "2026-06-12"})
    findings = [f for f in lint(rules, tmp_path, NOW, [fine, other]) if f.severity == "error"]
    assert len(findings) == 1
    assert (findings[0].file, findings[0].line) == ("test.yaml", 2)
    assert "data.priority gte 2" in findings[0].message and "sample dated" in findings[0].message
