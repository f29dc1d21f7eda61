"""A channel whose provider refuses our configuration stops, for every provider, and says so.

Each test drives the real worker logic (:class:`Deliverer`) against a real loopback peer that
refuses our credentials: the first message falls back to its next channel, the channel
stops (no further call to that provider), and ``/healthz`` names it and why. A worker that
starts with the channel configured clears the record (credentials fixed, process restarted).
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import pytest

from notifier.channels.base import Outcome, SendResult, Transport
from notifier.channels.email import SmtpEmailTransport
from notifier.channels.sms import TwilioSmsTransport
from notifier.channels.webpush import VAPID_REFUSALS, WebPushTransport, generate_vapid_keys
from notifier.delivery import Deliverer
from notifier.models import Channel, MessageStatus
from notifier.rules.engine import plan
from notifier.store import Store
from notifier.templates.renderer import Renderer
from tests.conftest import EXAMPLES, NOW, REMINDER_RULES, api_client, make_event, rules_from
from tests.fake_push import FakePushService
from tests.fake_twilio import ACCOUNT_SID, FakeTwilio
from tests.smtp_server import SmtpServer
from tests.test_delivery import ScriptedTransport

DUE = NOW + timedelta(minutes=1)


def rules(first: Channel, then: Channel) -> str:
    return (
        "rules:\n  - id: doc\n    trigger: [document.available]\n    at: immediately\n"
        f"    template: document_available\n    channels: [{first.value}, {then.value}]\n"
        "    quiet_hours: 'off'\n"
    )


def deliver_one(
    store: Store, transports: Mapping[Channel, Transport], rules_yaml: str, n: int, **recipient
) -> tuple[Deliverer, MessageStatus | None]:
    """Plan message ``n`` for a recipient of its own, claim it, deliver it."""
    contacts = {"phone": "+33612345678", "email": f"c{n}@example.org"} | recipient
    event = make_event(
        id=f"e{n}",
        type="document.available",
        subject=f"document:D-{n}",
        recipient={"id": f"c{n}", "contacts": contacts},
        data={"document_label": "récépissé", "how_to_get": "À l'accueil."},
    )
    store.accept(f"c:e{n}", plan(event, rules_from(rules_yaml), NOW, client="c"), NOW, ttl=60)
    (claimed,) = store.claim_due(DUE, limit=1, lease=timedelta(minutes=5))
    return claimed, event


def worker(store: Store, transports: Mapping[Channel, Transport]) -> Deliverer:
    return Deliverer(
        store,
        Renderer(EXAMPLES / "templates"),
        transports,
        clock=lambda: DUE,
        rng=random.Random(1),
    )


def run(deliverer: Deliverer, store: Store, rules_yaml: str, n: int, **recipient) -> str:
    """Deliver message ``n``; the channel it ended on."""
    claimed, _ = deliver_one(store, deliverer.transports, rules_yaml, n, **recipient)
    assert deliverer.deliver(claimed.message_id, claimed.claim) is MessageStatus.SENT
    record = store.get(claimed.message_id)
    assert record is not None and record.history[-1].channel is not None
    return record.history[-1].channel.value


def assert_reported(store: Store, tmp_path: Path, channel: Channel, why: str) -> None:
    off = store.channels_off()
    assert set(off) == {channel.value} and why in off[channel.value]["reason"]
    with api_client(store, REMINDER_RULES, tmp_path / "api", {"t": "a-long-key"}) as client:
        health = client.get("/healthz").json()
    assert why in health["channels_off"][channel.value]["reason"]


@pytest.fixture
def fallback() -> ScriptedTransport:
    return ScriptedTransport(*[SendResult(Outcome.SENT, reference="other")] * 10)


def test_sms_stops_when_twilio_refuses_the_credentials(
    store: Store, tmp_path: Path, fallback: ScriptedTransport
) -> None:
    twilio = FakeTwilio()
    try:
        sms = TwilioSmsTransport(
            ACCOUNT_SID, "wrong-token", sender="GENDARMERIE", api_base_url=twilio.url, timeout=2
        )
        deliverer = worker(store, {Channel.SMS: sms, Channel.EMAIL: fallback})
        yaml = rules(Channel.SMS, Channel.EMAIL)
        assert [run(deliverer, store, yaml, n) for n in range(3)] == ["email"] * 3
        assert len(twilio.requests) == 1, "no further call once the credentials are refused"
        assert_reported(store, tmp_path, Channel.SMS, "Twilio 20003")
        worker(store, {Channel.SMS: sms})  # a worker starting with SMS configured
        assert store.channels_off() == {}
    finally:
        twilio.close()


def test_email_stops_when_smtp_refuses_the_login(
    store: Store, tmp_path: Path, fallback: ScriptedTransport
) -> None:
    server = SmtpServer(tmp_path, require_starttls=True, password="right-password")
    try:
        smtp = SmtpEmailTransport(
            "127.0.0.1",
            server.port,
            sender="notifier@example.org",
            username="notifier",
            password="wrong-password",
            tls_context=server.client_context(),
            timeout=5,
        )
        deliverer = worker(store, {Channel.EMAIL: smtp, Channel.SMS: fallback})
        yaml = rules(Channel.EMAIL, Channel.SMS)
        assert run(deliverer, store, yaml, 0) == "sms"
        refused = list(server.logins)  # aiosmtplib tries each mechanism the server offers
        assert refused and not any(refused)
        assert [run(deliverer, store, yaml, n) for n in (1, 2)] == ["sms"] * 2
        assert server.logins == refused, "no further login once the credentials are refused"
        assert server.inbox.messages == []
        assert_reported(store, tmp_path, Channel.EMAIL, "SMTP 535")
    finally:
        server.stop()


def test_push_stops_when_the_push_services_refuse_our_vapid_key(
    store: Store, tmp_path: Path, fallback: ScriptedTransport
) -> None:
    """Subscriptions were made with key A; the engine is configured with key B."""
    push = FakePushService()
    _, right_public = generate_vapid_keys()
    wrong_private, _ = generate_vapid_keys()
    try:
        webpush = WebPushTransport(
            wrong_private, "mailto:dpo@example.org", timeout=2, clock=lambda: DUE
        )
        deliverer = worker(store, {Channel.WEBPUSH: webpush, Channel.SMS: fallback})
        yaml = rules(Channel.WEBPUSH, Channel.SMS)
        ended = []
        for n in range(VAPID_REFUSALS + 2):
            browser = push.subscribe(f"b{n}")
            browser.application_server_key = right_public
            ended.append(run(deliverer, store, yaml, n, push=browser.subscription()))
        assert ended == ["sms"] * (VAPID_REFUSALS + 2)
        assert len(push.refused) == VAPID_REFUSALS, "not called once the channel stopped"
        assert push.delivered == []
        assert_reported(store, tmp_path, Channel.WEBPUSH, "VAPID credentials refused")
    finally:
        push.close()


def test_one_subscription_made_with_an_older_key_does_not_stop_push(
    store: Store, fallback: ScriptedTransport
) -> None:
    """403 from one subscription: permanent for it only; the next ones still get pushes."""
    push = FakePushService()
    private, public = generate_vapid_keys()
    _, old_public = generate_vapid_keys()
    try:
        webpush = WebPushTransport(private, "mailto:dpo@example.org", timeout=2, clock=lambda: DUE)
        deliverer = worker(store, {Channel.WEBPUSH: webpush, Channel.SMS: fallback})
        yaml = rules(Channel.WEBPUSH, Channel.SMS)
        ended = []
        for n, key in enumerate([old_public, public, old_public, old_public, public]):
            browser = push.subscribe(f"b{n}")
            browser.application_server_key = key
            ended.append(run(deliverer, store, yaml, n, push=browser.subscription()))
        assert ended == ["sms", "webpush", "sms", "sms", "webpush"]
        assert store.channels_off() == {}
    finally:
        push.close()


def test_retry_after_is_honoured_for_twilio(store: Store) -> None:
    """A 429 with Retry-After: the message comes back no sooner than asked."""
    from tests.fake_twilio import Reply

    twilio = FakeTwilio()
    try:
        twilio.replies.append(Reply(429, 20429, retry_after="900"))
        sms = TwilioSmsTransport(
            ACCOUNT_SID, "test-auth-token", sender="GENDARMERIE", api_base_url=twilio.url
        )
        deliverer = worker(store, {Channel.SMS: sms})
        claimed, _ = deliver_one(store, {}, rules(Channel.SMS, Channel.EMAIL), 1)
        status = deliverer.deliver(claimed.message_id, claimed.claim)
        assert status is MessageStatus.TEMPORARY_FAILURE
        record = store.get(claimed.message_id)
        assert record is not None and record.due_at >= DUE + timedelta(seconds=900)
        assert json.dumps(record.history[-1].detail).find("Twilio 429") > 0
    finally:
        twilio.close()
