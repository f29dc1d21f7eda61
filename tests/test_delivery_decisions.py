"""The attempt's verdicts (notifier/delivery/decisions.py), as tables: before the send, for a
channel, before the provider call, after it, after an interrupted call."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from notifier.channels.base import Outcome, SendResult
from notifier.delivery.decisions import (
    GO,
    STOPPED_NUMBER,
    RetryPolicy,
    Step,
    Verdict,
    after_interruption,
    after_send,
    at_rate_limit,
    before_channel,
    capped,
    end,
    expiry,
    held,
    next_channel,
    none_delivered,
)
from notifier.models import Channel, MessageStatus, PlannedMessage
from notifier.store import CapLimit

NOW = datetime(2026, 6, 10, 10, 0, tzinfo=UTC)  # 12:00 in Paris
EVENING = datetime(2026, 6, 10, 20, 0, tzinfo=UTC)  # 22:00 in Paris
NEXT_MORNING = datetime(2026, 6, 11, 6, 0, tzinfo=UTC)  # 08:00 in Paris
PHONE = "+33612345678"
SMS, EMAIL, PUSH = Channel.SMS, Channel.EMAIL, Channel.WEBPUSH
S = MessageStatus


def message(*, person: dict[str, Any] | None = None, **fields: Any) -> PlannedMessage:
    recipient = {"id": "c-1", "contacts": {"phone": PHONE, "email": "c@example.org"}}
    return PlannedMessage.model_validate(
        {
            "id": "m-1",
            "rule": "reminder",
            "rules_version": "v1",
            "event_id": "e-1",
            "event_type": "appointment.booked",
            "subject": "appointment:A-1",
            "due_at": NOW,
            "template": "appointment_reminder",
            "channels": ["sms", "email"],
            "recipient": recipient | (person or {}),
            "data": {},
            "quiet_hours": ("21:00", "08:00"),
        }
        | fields
    )


@pytest.mark.parametrize(
    ("expires", "channel", "expected"),
    [
        pytest.param(None, None, GO, id="no-expiry"),
        pytest.param(NOW + timedelta(minutes=1), None, GO, id="before-expiry"),
        pytest.param(
            NOW + timedelta(milliseconds=999),
            None,
            end(S.EXPIRED, "past its expiry"),
            id="under-a-second-left",
        ),
        pytest.param(NOW, SMS, end(S.EXPIRED, "past its expiry", SMS), id="at-expiry-on-a-channel"),
    ],
)
def test_expiry(expires: datetime | None, channel: Channel | None, expected: Verdict) -> None:
    assert expiry(NOW, message(expires_at=expires), channel) == expected


@pytest.mark.parametrize(
    ("now", "person", "fields", "expected"),
    [
        pytest.param(NOW, {}, {}, GO, id="daytime"),
        pytest.param(
            EVENING,
            {},
            {},
            end(
                S.SCHEDULED,
                f"quiet hours: deferred to {NEXT_MORNING.isoformat()}",
                retry_at=NEXT_MORNING,
            ),
            id="quiet-hours-defer",
        ),
        pytest.param(EVENING, {}, {"quiet_hours": None}, GO, id="critical-no-quiet-hours"),
        pytest.param(
            EVENING,
            {},
            {"expires_at": EVENING + timedelta(hours=1)},
            end(S.EXPIRED, "quiet hours until its expiry: not sent"),
            id="quiet-hours-until-expiry",
        ),
        pytest.param(
            NOW,
            {"safety": {"paused": True}},
            {},
            end(S.WITHHELD, "withheld: the person paused all contact"),
            id="paused",
        ),
    ],
)
def test_held(
    now: datetime, person: dict[str, Any], fields: dict[str, Any], expected: Verdict
) -> None:
    assert held(now, message(person=person, **fields)) == expected


@pytest.mark.parametrize(
    ("channel", "person", "stop_list", "expected", "asked"),
    [
        pytest.param(SMS, {}, set(), GO, [PHONE], id="sms-free"),
        pytest.param(
            SMS,
            {},
            {PHONE},
            next_channel(SMS, STOPPED_NUMBER, f"skipped: {STOPPED_NUMBER}"),
            [PHONE],
            id="number-sent-stop",
        ),
        pytest.param(EMAIL, {}, {PHONE}, GO, [], id="stop-list-is-sms-only"),
        pytest.param(
            PUSH, {}, set(), next_channel(PUSH, "no contact"), [], id="no-contact-not-noted"
        ),
        pytest.param(
            SMS,
            {"blocked": ["sms"]},
            {PHONE},
            next_channel(
                SMS,
                "sms is closed for this recipient (provider opt-out)",
                "skipped: sms is closed for this recipient (provider opt-out)",
            ),
            [],
            id="a-reason-before-the-stop-list",
        ),
    ],
)
def test_before_channel(
    channel: Channel,
    person: dict[str, Any],
    stop_list: set[str],
    expected: Verdict,
    asked: list[str],
) -> None:
    """The STOP list is asked only about an SMS number that nothing else rules out."""
    questions: list[str] = []

    def stopped(number: str) -> bool:
        questions.append(number)
        return number in stop_list

    found = before_channel(
        channel,
        message(person=person).recipient,
        None,
        stopped={},
        closed=frozenset(),
        has_transport=True,
        number_stopped=stopped,
    )
    assert (found, questions) == (expected, asked)


def test_rate_limit_and_caps() -> None:
    assert at_rate_limit(NOW, SMS) == end(
        S.SCHEDULED, "sms at its rate limit; waiting", SMS, retry_at=NOW + timedelta(seconds=1)
    )
    assert capped(None) == GO
    assert capped(CapLimit("t|c-1", 20, timedelta(hours=1))) == end(
        S.CANCELLED, "cap reached: at most 20 per 1:00:00"
    )
    assert none_delivered(["sms: no contact", "email: permanent"]) == end(
        S.PERMANENT_FAILURE, "no channel could deliver (sms: no contact; email: permanent)"
    )


RETRY_AT = NOW + timedelta(seconds=30)  # the backoff below


@pytest.mark.parametrize(
    ("result", "attempts", "fallback", "fields", "expected"),
    [
        pytest.param(
            SendResult(Outcome.SENT, reference="SM1"),
            0,
            False,
            {},
            end(S.SENT, "SM1 (GSM-7, 1 segments)", SMS, reference="SM1"),
            id="sent",
        ),
        pytest.param(
            SendResult(Outcome.UNKNOWN, reason="timeout after the request"),
            0,
            False,
            {},
            end(S.TECHNICAL_FAILURE, "timeout after the request", SMS),
            id="unknown-never-resent",
        ),
        pytest.param(
            SendResult(Outcome.PERMANENT, reason="invalid number"),
            0,
            False,
            {},
            next_channel(SMS, "permanent", "permanent: invalid number"),
            id="permanent-next-channel",
        ),
        pytest.param(
            SendResult(Outcome.GONE, reason="unsubscribed"),
            0,
            False,
            {},
            next_channel(SMS, "gone", "gone: unsubscribed"),
            id="gone-next-channel",
        ),
        pytest.param(
            SendResult(Outcome.MISCONFIGURED, reason="bad credentials"),
            0,
            False,
            {},
            next_channel(SMS, "misconfigured", "misconfigured: bad credentials"),
            id="misconfigured-next-channel",
        ),
        pytest.param(
            SendResult(Outcome.RETRY, reason="busy"),
            0,
            False,
            {},
            end(
                S.TEMPORARY_FAILURE,
                f"busy; retry at {RETRY_AT.isoformat()}",
                SMS,
                retry_at=RETRY_AT,
            ),
            id="retry-later",
        ),
        pytest.param(
            SendResult(Outcome.RETRY, reason="busy"),
            2,
            True,
            {},
            end(
                S.TEMPORARY_FAILURE,
                "gave up on sms after 3 temporary failures: busy; trying the next channel",
                SMS,
                retry_at=NOW,
                exclude=True,
            ),
            id="retries-out-next-channel",
        ),
        pytest.param(
            SendResult(Outcome.RETRY, reason="busy"),
            2,
            False,
            {},
            end(S.PERMANENT_FAILURE, "gave up after 3 temporary failures: busy", SMS),
            id="retries-out-last-channel",
        ),
        pytest.param(
            SendResult(Outcome.RETRY, reason="busy"),
            0,
            False,
            {"expires_at": NOW + timedelta(seconds=10)},
            end(S.EXPIRED, "busy; no retry before expiry", SMS),
            id="no-retry-past-expiry",
        ),
    ],
)
def test_after_send(
    result: SendResult,
    attempts: int,
    fallback: bool,
    fields: dict[str, Any],
    expected: Verdict,
) -> None:
    found = after_send(
        result,
        SMS,
        message(**fields),
        now=NOW,
        attempts=attempts,
        fallback=fallback,
        policy=RetryPolicy(base=timedelta(seconds=30), max_attempts=3),
        rng=FixedCeiling(),
        sizes=" (GSM-7, 1 segments)",
    )
    assert found == expected


class FixedCeiling(random.Random):
    """Backoff at the top of its range: the first retry 30 s later."""

    def uniform(self, a: float, b: float) -> float:
        return min(b, 30.0)


@pytest.mark.parametrize(
    ("found", "expected"),
    [
        pytest.param(False, GO, id="not-sent-go-on"),
        pytest.param(
            "SM9",
            end(S.SENT, "SM9 (found after an interrupted attempt)", EMAIL, reference="SM9"),
            id="found-sent",
        ),
        pytest.param(
            None,
            end(
                S.TECHNICAL_FAILURE,
                "a worker stopped during the call to the email provider; "
                "it may have been delivered, so it is not sent again",
                EMAIL,
            ),
            id="unknowable",
        ),
    ],
)
def test_after_interruption(found: str | bool | None, expected: Verdict) -> None:
    assert after_interruption(found, EMAIL) == expected
    assert (expected.step is Step.GO) is (found is False)
