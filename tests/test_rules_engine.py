"""The planning engine is pure: examples first, then properties over generated events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifier.models import Channel
from notifier.rules.engine import EventDataError, plan
from tests.conftest import NOW, REMINDER_RULES, make_event, rules_from

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
        ({}, "data.starts_at: required"),
        ({"starts_at": "next tuesday"}, "data.starts_at: not an ISO 8601"),
        ({"starts_at": "2026-06-13T10:00:00"}, "data.starts_at: needs a UTC offset"),
        ({"starts_at": 12}, "data.starts_at: must be an ISO 8601"),
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
