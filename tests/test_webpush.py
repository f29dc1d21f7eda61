"""Web push through pywebpush to a loopback push service that decrypts and verifies it all."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from notifier.channels.base import Outcome, OutgoingMessage, SendResult
from notifier.channels.webpush import WebPushTransport, generate_vapid_keys, topic_for
from notifier.models import Channel
from notifier.urls import PUSH_SERVICES
from tests.support.fake_push import LOOPBACK_PUSH, FakePushService

PRIVATE, PUBLIC = generate_vapid_keys()
NOW = datetime.now(UTC)


@pytest.fixture
def push() -> Iterator[FakePushService]:
    service = FakePushService()
    yield service
    service.close()


def transport(**options: object) -> WebPushTransport:
    return WebPushTransport(
        PRIVATE,
        "mailto:dpo@gendarmerie.example",
        timeout=2,
        clock=lambda: NOW,
        **({"allowed_hosts": LOOPBACK_PUSH} | options),  # type: ignore[arg-type]
    )


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
        pytest.param(410, {}, Outcome.GONE, id="410-gone"),
        pytest.param(404, {}, Outcome.GONE, id="404-gone"),
        pytest.param(413, {}, Outcome.PERMANENT, id="413-too-large"),
        pytest.param(400, {}, Outcome.PERMANENT, id="400-bad-request"),
        pytest.param(429, {"Retry-After": "120"}, Outcome.RETRY, id="429-retry-after"),
        pytest.param(503, {}, Outcome.RETRY, id="503-unavailable"),
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


def test_a_redirect_is_not_followed(push: FakePushService) -> None:
    """A push service answering 307 to elsewhere: permanent, and elsewhere is never called."""
    elsewhere = FakePushService()
    try:
        target = elsewhere.subscribe("admin")
        elsewhere.replies["admin"] = [(201, {})]
        browser = push.subscribe("abc")
        push.replies["abc"] = [(307, {"Location": target.endpoint})]
        result = transport().send(message(browser.subscription()))
        assert result.outcome is Outcome.PERMANENT and "redirect" in result.reason
        assert elsewhere.replies["admin"] == [(201, {})] and elsewhere.delivered == []
    finally:
        elsewhere.close()


def test_an_endpoint_off_the_push_services_is_never_called(push: FakePushService) -> None:
    """With the default setting, the loopback service is not a push service: gone, not called."""
    browser = push.subscribe("abc")
    push.replies["abc"] = [(401, {})]
    result = transport(allowed_hosts=PUSH_SERVICES).send(message(browser.subscription()))
    assert result.outcome is Outcome.GONE and "not called" in result.reason
    assert push.replies["abc"] == [(401, {})]


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


def test_410_deletes_the_registered_subscription_and_falls_back(
    push: FakePushService, store: object
) -> None:
    """A real 410 from the push service, through the worker: the subscription is forgotten."""
    from notifier.models import MessageStatus, PushSubscription, Recipient
    from notifier.rules.engine import plan
    from notifier.store import Store
    from notifier.store.recipients import RecipientStore
    from tests.support.builders import (
        CONTACT_KEY,
        ScriptedTransport,
        claim,
        deliverer,
        make_event,
        rules_from,
    )

    assert isinstance(store, Store)
    recipients = RecipientStore(store.redis, contact_key=CONTACT_KEY)
    recipients.put("c", Recipient(id="c-1", contacts={"phone": "+33612345678"}))  # type: ignore[arg-type]
    browser = push.subscribe("old")
    recipients.add_push("c", "c-1", PushSubscription.model_validate(browser.subscription()), 1.0)
    push.replies["old"] = [(410, {})]
    rules = rules_from(
        "rules:\n  - {id: n, trigger: [x.y], template: procedure_status, "
        "channels: [webpush, sms], quiet_hours: 'off'}\n"
    )
    event = make_event(
        type="x.y", recipient={"id": "c-1"}, data={"reference": "R", "status_label": "S"}
    )
    store.accept("c:1", plan(event, rules, NOW, client="c"), NOW, ttl=60)
    (claimed,) = claim(store, NOW, limit=1)
    sms = ScriptedTransport(SendResult(Outcome.SENT))
    worker = deliverer(
        store, {Channel.WEBPUSH: transport(), Channel.SMS: sms}, at=NOW, recipients=recipients
    )
    assert worker.deliver(claimed.message_id, claimed.claim) is MessageStatus.SENT
    assert len(sms.sent) == 1
    stored = recipients.get("c", "c-1")
    assert stored is not None and stored.contacts.push is None


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        pytest.param("120", 120, id="seconds"),
        pytest.param("Sun, 29 Nov 2026 12:05:00 GMT", 300, id="http-date"),
        pytest.param("soon", None, id="unreadable"),
        pytest.param("", None, id="empty"),
    ],
)
def test_retry_after_in_seconds_or_as_a_date(header: str, seconds: int | None) -> None:
    from notifier.channels.base import parse_retry_after

    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    expected = timedelta(seconds=seconds) if seconds is not None else None
    assert parse_retry_after(header, now) == expected
