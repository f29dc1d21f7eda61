"""Web push through pywebpush to a loopback push service that decrypts and verifies it all."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from notifier.channels.base import Outcome, OutgoingMessage
from notifier.channels.webpush import WebPushTransport, generate_vapid_keys, topic_for
from notifier.models import Channel
from tests.fake_push import FakePushService

PRIVATE, PUBLIC = generate_vapid_keys()
NOW = datetime.now(UTC)


@pytest.fixture
def push() -> Iterator[FakePushService]:
    service = FakePushService()
    yield service
    service.close()


def transport(**options: object) -> WebPushTransport:
    return WebPushTransport(
        PRIVATE, "mailto:dpo@gendarmerie.example", timeout=2, clock=lambda: NOW, **options
    )  # type: ignore[arg-type]


def message(subscription: dict[str, object], **fields: object) -> OutgoingMessage:
    base: dict[str, object] = {
        "id": "msg-7",
        "channel": Channel.WEBPUSH,
        "address": json.dumps(subscription),
        "parts": {
            "title": "Votre dossier a avancé",
            "body": "Transmis au parquet.",
            "url": "https://x.example/d",
        },
        "subject": "procedure:P-1",
        "rule": "r",
        "expires_at": NOW + timedelta(hours=3),
    }
    return OutgoingMessage(**(base | fields))  # type: ignore[arg-type]


def test_encrypted_payload_and_vapid_reach_the_browser(push: FakePushService) -> None:
    browser = push.subscribe("abc")
    result = transport().send(message(browser.subscription()))
    assert result.outcome is Outcome.SENT, push.refused
    (delivery,) = push.delivered
    assert delivery.payload == {
        "title": "Votre dossier a avancé",
        "body": "Transmis au parquet.",
        "url": "https://x.example/d",
        "tag": topic_for("procedure:P-1"),
    }
    assert delivery.claims["sub"] == "mailto:dpo@gendarmerie.example"
    assert delivery.claims["aud"] == push.origin
    assert 3 * 3600 - 5 <= int(delivery.headers["ttl"]) <= 3 * 3600
    assert delivery.headers["urgency"] == "normal"
    assert delivery.headers["topic"] == topic_for("procedure:P-1")
    assert len(delivery.headers["topic"]) <= 32
    assert result.reference.startswith(f"webpush:{push.origin}/message/")  # type: ignore[union-attr]


def test_each_call_signs_for_its_own_push_service(push: FakePushService) -> None:
    other = FakePushService()
    try:
        channel = transport()
        assert channel.send(message(push.subscribe("a").subscription())).outcome is Outcome.SENT
        assert channel.send(message(other.subscribe("b").subscription())).outcome is Outcome.SENT
        assert other.delivered[0].claims["aud"] == other.origin, other.refused
    finally:
        other.close()


def test_the_wrong_subscriber_key_cannot_be_decrypted(push: FakePushService) -> None:
    browser = push.subscribe("abc")
    stolen = browser.subscription()
    stolen["keys"]["auth"] = "AAAAAAAAAAAAAAAAAAAAAA"  # type: ignore[index]
    assert transport().send(message(stolen)).outcome is Outcome.PERMANENT
    assert push.delivered == [] and push.refused


@pytest.mark.parametrize(
    ("status", "headers", "outcome"),
    [
        (410, {}, Outcome.GONE),
        (404, {}, Outcome.GONE),
        (413, {}, Outcome.PERMANENT),
        (400, {}, Outcome.PERMANENT),
        (429, {"Retry-After": "120"}, Outcome.RETRY),
        (503, {}, Outcome.RETRY),
    ],
)
def test_push_service_answers(
    push: FakePushService, status: int, headers: dict[str, str], outcome: Outcome
) -> None:
    browser = push.subscribe("abc")
    push.replies["abc"] = [(status, headers)]
    result = transport().send(message(browser.subscription()))
    assert result.outcome is outcome and str(status) in result.reason
    if status == 429:
        assert result.retry_after == timedelta(seconds=120)


def test_payload_too_large_is_not_sent(push: FakePushService) -> None:
    browser = push.subscribe("abc")
    big = {"title": "t", "body": "x" * 4000}
    assert transport().send(message(browser.subscription(), parts=big)).outcome is Outcome.PERMANENT
    assert push.delivered == []


def test_expired_message_is_not_sent(push: FakePushService) -> None:
    browser = push.subscribe("abc")
    late = message(browser.subscription(), expires_at=NOW - timedelta(seconds=1))
    assert transport().send(late).outcome is Outcome.PERMANENT and push.delivered == []


def test_critical_messages_are_urgent(push: FakePushService) -> None:
    browser = push.subscribe("abc")
    transport().send(message(browser.subscription(), metadata={"critical": "1"}))
    assert push.delivered[0].headers["urgency"] == "high"
