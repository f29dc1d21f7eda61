"""The planning engine is pure: examples first, then properties over generated events."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifier.models import Channel
from notifier.rules.engine import EventDataError, next_in_series, plan
from notifier.rules.loader import load_rule_texts
from tests.support.builders import (
    NOW,
    REMINDER_RULES,
    make_event,
    one_rule,
    rules_from,
)

RULES = rules_from(REMINDER_RULES)


def test_booked_plans_both_reminders_at_their_offsets() -> None:
    event = make_event()
    result = plan(event, RULES, NOW)
    starts = NOW + timedelta(days=3)
    assert {(m.rule, m.due_at) for m in result.messages} == {
        ("reminder-48h", starts - timedelta(hours=48)),
        ("reminder-2h", starts - timedelta(hours=2)),
    }
    message = result.messages[0]
    assert message.channels == (Channel.SMS, Channel.EMAIL)
    assert message.rules_version == RULES.version
    assert message.subject == event.subject


def test_reminder_already_past_is_skipped_not_sent_late() -> None:
    event = make_event(data={"starts_at": (NOW + timedelta(hours=5)).isoformat()})
    result = plan(event, RULES, NOW)
    assert [m.rule for m in result.messages] == ["reminder-2h"]
    assert [s.rule for s in result.skipped] == ["reminder-48h"]
    assert "already past" in result.skipped[0].reason


def test_if_past_send_sends_now() -> None:
    rules = rules_from(
        REMINDER_RULES.replace(
            "at: 48h before data.starts_at", "at: 48h before data.starts_at\n    if_past: send"
        )
    )
    event = make_event(data={"starts_at": (NOW + timedelta(hours=5)).isoformat()})
    due = {m.rule: m.due_at for m in plan(event, rules, NOW).messages}
    assert due["reminder-48h"] == NOW


def test_cancelled_event_cancels_rules_listing_it_and_plans_nothing() -> None:
    result = plan(make_event(type="appointment.cancelled", id="evt-2"), RULES, NOW)
    assert result.messages == ()
    assert {(c.subject, c.rule) for c in result.cancellations} == {
        ("appointment:BRG-75-00042", "reminder-48h"),
        ("appointment:BRG-75-00042", "reminder-2h"),
    }


def test_trigger_replaces_pending_unless_rule_says_not() -> None:
    rescheduled = plan(make_event(type="appointment.rescheduled", id="evt-3"), RULES, NOW)
    assert {c.rule for c in rescheduled.cancellations} == {"reminder-48h", "reminder-2h"}
    status = plan(make_event(type="procedure.status_changed", id="evt-4"), RULES, NOW)
    assert status.cancellations == ()
    assert [m.due_at for m in status.messages] == [NOW]


def test_unrelated_event_plans_nothing() -> None:
    result = plan(make_event(type="document.available"), RULES, NOW)
    assert result.messages == result.cancellations == result.skipped == ()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param({}, "data.starts_at: required", id="missing"),
        pytest.param(
            {"starts_at": "next tuesday"}, "data.starts_at: not an ISO 8601", id="not-a-date"
        ),
        pytest.param(
            {"starts_at": "2026-06-13T10:00:00"},
            "data.starts_at: needs a UTC offset",
            id="without-offset",
        ),
        pytest.param({"starts_at": 12}, "data.starts_at: must be an ISO 8601", id="number"),
    ],
)
def test_missing_or_bad_timestamp_names_the_field(data: dict[str, object], message: str) -> None:
    with pytest.raises(EventDataError, match=message) as caught:
        plan(make_event(data=data), RULES, NOW)
    assert caught.value.field == "data.starts_at"


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        plan(make_event(), RULES, NOW.replace(tzinfo=None))


# --- properties ---------------------------------------------------------------------------

offsets = st.integers(min_value=-10 * 24 * 3600, max_value=60 * 24 * 3600)
event_types = st.sampled_from(
    ["appointment.booked", "appointment.rescheduled", "appointment.cancelled", "x.y"]
)


@given(offset=offsets, event_type=event_types, event_id=st.text("abc123", min_size=1))
def test_plan_is_deterministic(offset: int, event_type: str, event_id: str) -> None:
    event = make_event(
        id=event_id,
        type=event_type,
        data={"starts_at": (NOW + timedelta(seconds=offset)).isoformat()},
    )
    assert plan(event, RULES, NOW, client="c") == plan(event, RULES, NOW, client="c")


@given(offset=offsets, now_shift=st.integers(min_value=0, max_value=10**8))
def test_nothing_is_due_before_now(offset: int, now_shift: int) -> None:
    now = NOW + timedelta(seconds=now_shift)
    event = make_event(data={"starts_at": (now + timedelta(seconds=offset)).isoformat()})
    result = plan(event, RULES, now)
    assert all(m.due_at >= now - timedelta(seconds=1) for m in result.messages)
    # every rule triggered is accounted for: planned or skipped, never silently dropped
    assert len(result.messages) + len(result.skipped) == 2


@given(offset=offsets)
def test_cancel_event_never_plans_a_message(offset: int) -> None:
    event = make_event(
        type="appointment.cancelled",
        data={"starts_at": (NOW + timedelta(seconds=offset)).isoformat()},
    )
    result = plan(event, RULES, NOW)
    assert result.messages == ()
    assert {c.rule for c in result.cancellations} == {"reminder-48h", "reminder-2h"}


@given(
    first=st.integers(min_value=3 * 3600, max_value=30 * 24 * 3600),
    second=st.integers(min_value=3 * 3600, max_value=30 * 24 * 3600),
)
def test_reschedule_replaces_every_pending_reminder_of_its_rules(first: int, second: int) -> None:
    booked = plan(
        make_event(data={"starts_at": (NOW + timedelta(seconds=first)).isoformat()}), RULES, NOW
    )
    moved = plan(
        make_event(
            id="evt-2",
            type="appointment.rescheduled",
            data={"starts_at": (NOW + timedelta(seconds=second)).isoformat()},
        ),
        RULES,
        NOW,
    )
    replaced = {(c.subject, c.rule) for c in moved.cancellations}
    assert all((m.subject, m.rule) in replaced for m in booked.messages)
    assert not {m.id for m in booked.messages} & {m.id for m in moved.messages}
    new_start = NOW + timedelta(seconds=second)
    assert all(m.due_at < new_start for m in moved.messages)


def test_ids_differ_per_client() -> None:
    event = make_event()
    a = plan(event, RULES, NOW, client="a").messages
    b = plan(event, RULES, NOW, client="b").messages
    assert {m.id for m in a}.isdisjoint(m.id for m in b)


def test_utc_and_offset_timestamps_agree() -> None:
    paris = make_event(data={"starts_at": "2026-06-13T10:00:00+02:00"})
    utc = make_event(data={"starts_at": datetime(2026, 6, 13, 8, 0, tzinfo=UTC).isoformat()})
    assert [m.due_at for m in plan(paris, RULES, NOW).messages] == [
        m.due_at for m in plan(utc, RULES, NOW).messages
    ]


# --- the rest of the rule language ----------------------------------------------------------


def test_wildcard_trigger_matches_one_segment() -> None:
    rules = one_rule("    trigger: [procedure.*]\n")
    assert plan(make_event(type="procedure.status_changed"), rules, NOW).messages
    assert not plan(make_event(type="procedure.status.changed"), rules, NOW).messages
    assert not plan(make_event(type="appointment.booked"), rules, NOW).messages


@pytest.mark.parametrize(
    ("condition", "data", "holds"),
    [
        pytest.param(
            "{field: data.kind, equals: plainte}", {"kind": "plainte"}, True, id="equals-holds"
        ),
        pytest.param(
            "{field: data.kind, equals: plainte}", {"kind": "vol"}, False, id="equals-differs"
        ),
        pytest.param(
            "{field: data.kind, not_equals: plainte}", {"kind": "vol"}, True, id="not-equals"
        ),
        pytest.param("{field: data.kind, in: [a, b]}", {"kind": "b"}, True, id="in-list"),
        pytest.param("{field: data.kind, in: [a, b]}", {}, False, id="in-missing-field"),
        pytest.param("{field: data.kind, not_in: [a, b]}", {"kind": "c"}, True, id="not-in"),
        pytest.param("{field: data.kind, present: true}", {"kind": None}, True, id="present-null"),
        pytest.param("{field: data.kind, present: false}", {}, True, id="present-false-missing"),
        pytest.param("{field: data.level, gte: 3}", {"level": 3}, True, id="gte-equal"),
        pytest.param("{field: data.level, gt: 3}", {"level": 3}, False, id="gt-equal"),
        pytest.param("{field: data.level, lt: 3}", {"level": "x"}, False, id="lt-text"),
        pytest.param("{field: data.level, lte: 3}", {"level": True}, False, id="lte-boolean"),
        pytest.param(
            "{field: data.unit.code, equals: '75007'}",
            {"unit": {"code": "75007"}},
            True,
            id="nested-field",
        ),
        pytest.param(
            "{field: occurred_at, lt: '2027-01-01'}", {}, True, id="occurred-at-before-date"
        ),
    ],
)
def test_conditions(condition: str, data: dict[str, object], holds: bool) -> None:
    rules = one_rule(f"    trigger: [x.y]\n    when: [{condition}]\n")
    assert bool(plan(make_event(type="x.y", data=data), rules, NOW).messages) is holds


def test_condition_needs_exactly_one_operator() -> None:
    from notifier.rules.loader import RuleSetError

    with pytest.raises(RuleSetError, match="exactly one operator"):
        one_rule("    trigger: [x.y]\n    when: [{field: data.a, equals: 1, in: [1]}]\n")


def test_the_day_before_at_18() -> None:
    rules = one_rule("    trigger: [x.y]\n    at: 1 day before data.starts_at at 18:00\n")
    event = make_event(type="x.y", data={"starts_at": "2026-06-13T10:00:00+02:00"})
    (message,) = plan(event, rules, NOW).messages
    assert message.due_at == datetime(2026, 6, 12, 16, 0, tzinfo=UTC)


def test_expiry_skips_a_message_that_would_arrive_too_late() -> None:
    rules = one_rule(
        "    trigger: [x.y]\n    at: 1h after occurred_at\n    expires: 30m after occurred_at\n"
    )
    result = plan(make_event(type="x.y"), rules, NOW)
    assert not result.messages and "after its expiry" in result.skipped[0].reason


def test_grace_sends_late_messages_only_within_it() -> None:
    rules = one_rule(
        "    trigger: [x.y]\n    at: 1h after data.starts_at\n    if_past: send\n    grace: 2h\n"
    )
    within = make_event(type="x.y", data={"starts_at": (NOW - timedelta(hours=2)).isoformat()})
    beyond = make_event(type="x.y", data={"starts_at": (NOW - timedelta(hours=4)).isoformat()})
    assert [m.due_at for m in plan(within, rules, NOW).messages] == [NOW]
    assert plan(beyond, rules, NOW).skipped


def test_quiet_hours_default_override_and_critical() -> None:
    evening = NOW.replace(hour=20)  # 22:00 in Paris
    event = make_event(type="x.y")
    default = one_rule("    trigger: [x.y]\n")
    (deferred,) = plan(event, default, evening).messages
    assert deferred.due_at == datetime(2026, 6, 11, 6, 0, tzinfo=UTC)  # 08:00 in Paris
    (critical,) = plan(
        event, one_rule("    trigger: [x.y]\n    critical: true\n"), evening
    ).messages
    assert critical.due_at == evening and critical.quiet_hours is None
    late = one_rule("    trigger: [x.y]\n    quiet_hours: {start: '23:00', end: '07:00'}\n")
    assert plan(event, late, evening).messages[0].due_at == evening
    off = one_rule('    trigger: [x.y]\n    quiet_hours: "off"\n')
    assert plan(event, off, evening).messages[0].due_at == evening


def test_defaults_file_sets_quiet_hours_for_every_rule() -> None:
    rules = load_rule_texts(
        [
            ("defaults.yaml", "defaults:\n  quiet_hours: {start: '20:00', end: '09:00'}\n"),
            ("r.yaml", "rules:\n  - {id: r, trigger: [x.y], template: t, channels: [sms]}\n"),
        ]
    )
    (message,) = plan(make_event(type="x.y"), rules, NOW.replace(hour=18, minute=30)).messages
    assert message.quiet_hours == ("20:00", "09:00")
    assert message.due_at == datetime(2026, 6, 11, 7, 0, tzinfo=UTC)


def test_recurring_series_plans_only_its_first_occurrence() -> None:
    rules = one_rule(
        "    trigger: [x.y]\n    every: {cron: '0 9 * * MON', until: data.closes_at, count: 3}\n"
    )
    event = make_event(type="x.y", data={"closes_at": "2026-07-31T00:00:00+02:00"})
    (first,) = plan(event, rules, NOW).messages  # NOW is Wednesday 10 June
    assert first.due_at == datetime(2026, 6, 15, 7, 0, tzinfo=UTC)
    assert first.series is not None and first.series.index == 1
    second = next_in_series(first)
    third = next_in_series(second)  # type: ignore[arg-type]
    assert second is not None and third is not None
    assert [second.due_at.day, third.due_at.day] == [22, 29]
    assert len({first.id, second.id, third.id}) == 3
    assert next_in_series(third) is None  # count reached


def test_series_stops_at_until() -> None:
    rules = one_rule("    trigger: [x.y]\n    every: {cron: '0 9 * * *', until: data.closes_at}\n")
    event = make_event(type="x.y", data={"closes_at": "2026-06-12T12:00:00+02:00"})
    (first,) = plan(event, rules, NOW).messages
    second = next_in_series(first)
    assert second is not None and next_in_series(second) is None


@given(offset=offsets, hour=st.integers(0, 23))
def test_nothing_planned_inside_quiet_hours_or_after_expiry(offset: int, hour: int) -> None:
    now = NOW.replace(hour=hour)
    event = make_event(data={"starts_at": (now + timedelta(seconds=offset)).isoformat()})
    for message in plan(event, RULES, now).messages:
        local = message.due_at.astimezone(ZoneInfo("Europe/Paris")).time()
        assert not (local >= time(21) or local < time(8))
        assert message.expires_at is None or message.due_at < message.expires_at
