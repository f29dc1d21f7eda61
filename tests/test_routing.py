"""The delivery's pure decisions (notifier/delivery/decisions.py), as tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from notifier.delivery.decisions import AfterFailure, Skip, after_temporary_failure, skip
from notifier.models import Channel, MessageStatus, Recipient

PHONE_AND_MAIL = {"phone": "+33612345678", "email": "camille@example.org"}


def recipient(**fields: Any) -> Recipient:
    return Recipient.model_validate({"id": "c-1", "contacts": PHONE_AND_MAIL} | fields)


STOPPED = {Channel.SMS: "Twilio 20003: authentication failed"}
NEWS = "procedure_news"


@pytest.mark.parametrize(
    ("channel", "person", "category", "stopped", "closed", "transport", "expected"),
    [
        pytest.param(Channel.SMS, {}, None, {}, "", True, None, id="sms-free"),
        pytest.param(Channel.EMAIL, {}, NEWS, {}, "", True, None, id="email-news-free"),
        pytest.param(
            Channel.SMS,
            {},
            None,
            STOPPED,
            "",
            True,
            Skip("the sms channel is stopped: Twilio 20003: authentication failed"),
            id="channel-stopped",
        ),
        pytest.param(
            Channel.EMAIL, {}, None, STOPPED, "", True, None, id="another-channel-stopped"
        ),
        pytest.param(
            Channel.WEBPUSH,
            {"needs": ["no_smartphone"]},
            None,
            {},
            "",
            True,
            Skip("no web push for a recipient without a smartphone"),
            id="push-without-smartphone",
        ),
        pytest.param(
            Channel.SMS,
            {"needs": ["no_smartphone"]},
            None,
            {},
            "",
            True,
            None,
            id="sms-without-smartphone",
        ),
        pytest.param(
            Channel.SMS,
            {"blocked": ["sms"]},
            None,
            {},
            "",
            True,
            Skip("sms is closed for this recipient (provider opt-out)"),
            id="blocked-by-provider",
        ),
        pytest.param(
            Channel.EMAIL,
            {"opt_outs": [{"category": NEWS, "channels": ["email"]}]},
            NEWS,
            {},
            "",
            True,
            Skip(f"the recipient opted out of {NEWS!r} on email"),
            id="opted-out-of-news-here",
        ),
        pytest.param(
            Channel.SMS,
            {"opt_outs": [{"category": NEWS, "channels": ["email"]}]},
            NEWS,
            {},
            "",
            True,
            None,
            id="opted-out-elsewhere",
        ),
        pytest.param(
            Channel.EMAIL,
            {"opt_outs": [{"category": NEWS}]},
            None,
            {},
            "",
            True,
            None,
            id="service-message-ignores-opt-out",
        ),
        pytest.param(
            Channel.SMS,
            {},
            None,
            {},
            "sms",
            True,
            Skip("closed for this message (reported undelivered, or its retries ran out)"),
            id="closed-for-this-message",
        ),
        pytest.param(
            Channel.WEBPUSH,
            {},
            None,
            {},
            "",
            True,
            Skip("no contact", noted=False),
            id="no-contact",
        ),
        pytest.param(
            Channel.SMS,
            {},
            None,
            {},
            "",
            False,
            Skip("no transport", noted=False),
            id="no-transport",
        ),
        pytest.param(
            Channel.SMS,
            {"blocked": ["sms"]},
            None,
            STOPPED,
            "sms",
            False,
            Skip("the sms channel is stopped: Twilio 20003: authentication failed"),
            id="stopped-comes-first",
        ),
        pytest.param(
            Channel.WEBPUSH,
            {"needs": ["no_smartphone"]},
            None,
            {},
            "",
            False,
            Skip("no web push for a recipient without a smartphone"),
            id="a-reason-before-a-missing-transport",
        ),
    ],
)
def test_skip(
    channel: Channel,
    person: dict[str, Any],
    category: str | None,
    stopped: dict[Channel, str],
    closed: str,
    transport: bool,
    expected: Skip | None,
) -> None:
    found = skip(
        channel,
        recipient(**person),
        category,
        stopped=stopped,
        closed=frozenset(filter(None, closed.split(","))),
        has_transport=transport,
    )
    assert found == expected


NOW = datetime(2026, 6, 10, 8, 0, tzinfo=UTC)


def quiet_until_eight(moment: datetime) -> datetime:
    """A stand-in for the message's quiet hours: 21:00–08:00 UTC."""
    if moment.hour >= 21:
        return (moment + timedelta(days=1)).replace(hour=8, minute=0, second=0)
    if moment.hour < 8:
        return moment.replace(hour=8, minute=0, second=0)
    return moment


@pytest.mark.parametrize(
    ("attempts", "fallback", "now", "backoff", "retry_after", "expires", "expected"),
    [
        pytest.param(
            0,
            False,
            NOW,
            timedelta(seconds=30),
            None,
            None,
            AfterFailure(
                MessageStatus.TEMPORARY_FAILURE,
                f"busy; retry at {(NOW + timedelta(seconds=30)).isoformat()}",
                retry_at=NOW + timedelta(seconds=30),
            ),
            id="first-failure-backs-off",
        ),
        pytest.param(
            2,
            False,
            NOW,
            timedelta(seconds=30),
            timedelta(minutes=5),
            None,
            AfterFailure(
                MessageStatus.TEMPORARY_FAILURE,
                f"busy; retry at {(NOW + timedelta(minutes=5)).isoformat()}",
                retry_at=NOW + timedelta(minutes=5),
            ),
            id="provider-asks-for-longer",
        ),
        pytest.param(
            2,
            False,
            NOW,
            timedelta(minutes=5),
            timedelta(seconds=10),
            None,
            AfterFailure(
                MessageStatus.TEMPORARY_FAILURE,
                f"busy; retry at {(NOW + timedelta(minutes=5)).isoformat()}",
                retry_at=NOW + timedelta(minutes=5),
            ),
            id="backoff-longer-than-asked",
        ),
        pytest.param(
            1,
            False,
            NOW.replace(hour=20, minute=59),
            timedelta(minutes=2),
            None,
            None,
            AfterFailure(
                MessageStatus.TEMPORARY_FAILURE,
                f"busy; retry at {(NOW + timedelta(days=1)).isoformat()}",
                retry_at=NOW + timedelta(days=1),
            ),
            id="retry-moved-out-of-quiet-hours",
        ),
        pytest.param(
            1,
            False,
            NOW,
            timedelta(minutes=10),
            None,
            NOW + timedelta(minutes=10),
            AfterFailure(MessageStatus.EXPIRED, "busy; no retry before expiry"),
            id="retry-would-be-at-expiry",
        ),
        pytest.param(
            1,
            False,
            NOW,
            timedelta(minutes=9),
            None,
            NOW + timedelta(minutes=10),
            AfterFailure(
                MessageStatus.TEMPORARY_FAILURE,
                f"busy; retry at {(NOW + timedelta(minutes=9)).isoformat()}",
                retry_at=NOW + timedelta(minutes=9),
            ),
            id="retry-just-before-expiry",
        ),
        pytest.param(
            7,
            False,
            NOW,
            timedelta(seconds=30),
            None,
            None,
            AfterFailure(
                MessageStatus.PERMANENT_FAILURE, "gave up after 8 temporary failures: busy"
            ),
            id="retries-exhausted-no-other-channel",
        ),
        pytest.param(
            7,
            True,
            NOW,
            timedelta(seconds=30),
            None,
            None,
            AfterFailure(
                MessageStatus.TEMPORARY_FAILURE,
                "gave up on sms after 8 temporary failures: busy; trying the next channel",
                retry_at=NOW,
                next_channel=True,
            ),
            id="retries-exhausted-next-channel-now",
        ),
        pytest.param(
            6,
            True,
            NOW,
            timedelta(seconds=30),
            None,
            None,
            AfterFailure(
                MessageStatus.TEMPORARY_FAILURE,
                f"busy; retry at {(NOW + timedelta(seconds=30)).isoformat()}",
                retry_at=NOW + timedelta(seconds=30),
            ),
            id="one-retry-left-stays-on-channel",
        ),
    ],
)
def test_after_temporary_failure(
    attempts: int,
    fallback: bool,
    now: datetime,
    backoff: timedelta,
    retry_after: timedelta | None,
    expires: datetime | None,
    expected: AfterFailure,
) -> None:
    found = after_temporary_failure(
        attempts=attempts,
        max_attempts=8,
        fallback=fallback,
        now=now,
        backoff=backoff,
        retry_after=retry_after,
        settle=quiet_until_eight,
        expires_at=expires,
        reason="busy",
        channel=Channel.SMS,
    )
    assert found == expected
