"""A channel whose provider refuses our configuration stops, for every provider, and says so.

Each test drives the real worker logic (:class:`Deliverer`) against a real loopback peer that
refuses our credentials: the first message falls back to its next channel, the channel
stops (no further call to that provider), and ``/healthz`` names it and why. A worker that
starts with the channel configured clears the record (credentials fixed, process restarted).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import pytest

from notifier.channels.base import Outcome, SendResult, Transport
from notifier.channels.email import SmtpEmailTransport
from notifier.channels.sms import TwilioSmsTransport
from notifier.channels.webpush import VAPID_REFUSALS, WebPushTransport, generate_vapid_keys
from notifier.delivery.attempt import Deliverer
from notifier.models import Channel, MessageStatus, PushSubscription, Recipient
from notifier.rules.engine import plan
from notifier.store import Store
from notifier.store.recipients import RecipientStore
from notifier.urls import PUSH_SERVICES
from tests.support.builders import (
    CONTACT_KEY,
    NOW,
    REMINDER_RULES,
    ScriptedTransport,
    api_client,
    claim,
    deliverer,
    make_event,
    rules_from,
)
from tests.support.fake_push import LOOPBACK_PUSH, FakePushService
from tests.support.fake_twilio import ACCOUNT_SID, FakeTwilio
from tests.support.smtp_server import SmtpServer

DUE = NOW + timedelta(minutes=1)


def rules(first: Channel, then: Channel) -> str:
    return (
        "rules:\n  - id: doc\n    trigger: [document.available]\n    at: immediately\n"
        f"    template: document_available\n    channels: [{first.value}, {then.value}]\n"
        "    quiet_hours: 'off'\n"
    )


def deliver_one(
    store: Store,
    transports: Mapping[Channel, Transport],
    rules_yaml: str,
    n: int,
    who: str | None = None,
    **recipient,
) -> tuple[Deliverer, MessageStatus | None]:
    """Plan message ``n`` for a recipient of its own (or ``who``), claim it, deliver it."""
    contacts = {"phone": "+33612345678", "email": f"c{n}@example.org"} | recipient
    event = make_event(
        id=f"e{n}",
        type="document.available",
        subject=f"document:D-{n}",
        recipient={"id": who or f"c{n}", "contacts": contacts},
        data={"document_label": "récépissé", "how_to_get": "À l'accueil."},
    )
    store.accept(f"c:e{n}", plan(event, rules_from(rules_yaml), NOW, client="c"), NOW, ttl=60)
    (claimed,) = claim(store, DUE, limit=1)
    return claimed, event


def stored(store: Store, who: str, subscription: dict[str, object]) -> RecipientStore:
    """``who`` registered (tenant ``c``) with this browser's subscription stored."""
    recipients = RecipientStore(store.redis, contact_key=CONTACT_KEY)
    person = Recipient.model_validate({"id": who, "contacts": {"phone": "+33612345678"}})
    recipients.put("c", person)
    recipients.add_push("c", who, PushSubscription.model_validate(subscription), 1.0)
    return recipients


def run(
    worker: Deliverer, store: Store, rules_yaml: str, n: int, who: str | None = None, **recipient
) -> str:
    """Deliver message ``n`` (to ``who``, else a recipient of its own); the channel it ended on."""
    claimed, _ = deliver_one(store, worker.transports, rules_yaml, n, who, **recipient)
    assert worker.deliver(claimed.message_id, claimed.claim) is MessageStatus.SENT
    record = store.get(claimed.message_id)
    assert record is not None and record.history[-1].channel is not None
    return record.history[-1].channel.value


def assert_reported(store: Store, tmp_path: Path, channel: Channel, why: str) -> None:
    off = store.channels_off()
    assert set(off) == {channel.value} and why in off[channel.value]["reason"]
    with api_client(store, REMINDER_RULES, tmp_path / "api", {"t": "a-long-key"}) as client:
        health = client.get("/healthz").json()
    assert why in health["channels_off"][channel.value]["reason"]


def push_transport(private: str, allowed: tuple[str, ...] = LOOPBACK_PUSH) -> WebPushTransport:
    return WebPushTransport(
        private, "mailto:dpo@example.org", timeout=2, clock=lambda: DUE, allowed_hosts=allowed
    )


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
        worker = deliverer(store, {Channel.SMS: sms, Channel.EMAIL: fallback}, at=DUE)
        yaml = rules(Channel.SMS, Channel.EMAIL)
        assert [run(worker, store, yaml, n) for n in range(3)] == ["email"] * 3
        assert len(twilio.requests) == 1, "no further call once the credentials are refused"
        assert_reported(store, tmp_path, Channel.SMS, "Twilio 20003")
        deliverer(store, {Channel.SMS: sms}, at=DUE)  # a worker starting with SMS configured
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
        worker = deliverer(store, {Channel.EMAIL: smtp, Channel.SMS: fallback}, at=DUE)
        yaml = rules(Channel.EMAIL, Channel.SMS)
        assert run(worker, store, yaml, 0) == "sms"
        refused = list(server.logins)  # aiosmtplib tries each mechanism the server offers
        assert refused and not any(refused)
        assert [run(worker, store, yaml, n) for n in (1, 2)] == ["sms"] * 2
        assert server.logins == refused, "no further login once the credentials are refused"
        assert server.inbox.messages == []
        assert_reported(store, tmp_path, Channel.EMAIL, "SMTP 535")
    finally:
        server.stop()


def test_push_stops_when_the_push_services_refuse_our_vapid_key(
    store: Store, tmp_path: Path, fallback: ScriptedTransport
) -> None:
    """Subscriptions were made with our key A and took pushes signed with it; the engine is
    then configured with key B (a rotation gone wrong): they refuse it, and push stops."""
    push = FakePushService()
    right_private, right_public = generate_vapid_keys()
    wrong_private, _ = generate_vapid_keys()
    try:
        yaml = rules(Channel.WEBPUSH, Channel.SMS)
        people = [f"p{n}" for n in range(VAPID_REFUSALS + 2)]
        for n, who in enumerate(people):
            browser = push.subscribe(f"b{n}")
            browser.application_server_key = right_public
            recipients = stored(store, who, browser.subscription())
            before = deliverer(
                store, {Channel.WEBPUSH: push_transport(right_private)}, recipients=recipients
            )
            assert run(before, store, yaml, 100 + n, who) == "webpush"
        webpush = push_transport(wrong_private)
        worker = deliverer(
            store, {Channel.WEBPUSH: webpush, Channel.SMS: fallback}, recipients=recipients
        )
        ended = [run(worker, store, yaml, n, who) for n, who in enumerate(people)]
        assert ended == ["sms"] * (VAPID_REFUSALS + 2)
        assert len(push.refused) == VAPID_REFUSALS, "not called once the channel stopped"
        assert len(push.delivered) == len(people), "only those signed with the right key"
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
        webpush = push_transport(private)
        worker = deliverer(store, {Channel.WEBPUSH: webpush, Channel.SMS: fallback}, at=DUE)
        yaml = rules(Channel.WEBPUSH, Channel.SMS)
        ended = []
        for n, key in enumerate([old_public, public, old_public, old_public, public]):
            browser = push.subscribe(f"b{n}")
            browser.application_server_key = key
            ended.append(run(worker, store, yaml, n, push=browser.subscription()))
        assert ended == ["sms", "webpush", "sms", "sms", "webpush"]
        assert store.channels_off() == {}
    finally:
        push.close()


@pytest.mark.parametrize(
    ("people", "endpoints", "status", "stops"),
    [
        pytest.param(1, 1, 401, False, id="one-subscription-401"),
        pytest.param(1, 1, 403, False, id="one-subscription-403"),
        pytest.param(1, VAPID_REFUSALS + 1, 403, False, id="one-person-many-subscriptions-403"),
        pytest.param(1, VAPID_REFUSALS + 1, 401, False, id="one-person-many-subscriptions-401"),
        # real subscriptions made with someone else's key (FCM answers 403): never took ours
        pytest.param(VAPID_REFUSALS, VAPID_REFUSALS, 403, False, id="several-people-403"),
        pytest.param(VAPID_REFUSALS, VAPID_REFUSALS, 401, False, id="several-people-401"),
    ],
)
def test_one_persons_answers_never_stop_push(
    store: Store, fallback: ScriptedTransport, people: int, endpoints: int, status: int, stops: bool
) -> None:
    """An endpoint a person chose (at worst one the setting allows: here the loopback push
    service) answers 401 or 403 to every push: permanent for that subscription, and push stays
    on for everyone else. Even several people's subscriptions refusing us in a row say nothing
    about our key when none of them ever took it (real ones made with another key, as three
    citizens' page links allow): only those that did count (the next test)."""
    push = FakePushService()
    private, public = generate_vapid_keys()
    try:
        worker = deliverer(
            store, {Channel.WEBPUSH: push_transport(private), Channel.SMS: fallback}, at=DUE
        )
        yaml = rules(Channel.WEBPUSH, Channel.SMS)
        ended = []
        for n in range(VAPID_REFUSALS + 1):
            endpoint = f"h{n % endpoints}"
            hostile = push.subscribe(endpoint)
            push.replies[endpoint] = [(status, {})]
            sub = hostile.subscription()
            ended.append(run(worker, store, yaml, n, f"person-{n % people}", push=sub))
        browser = push.subscribe("genuine")
        browser.application_server_key = public
        ended.append(run(worker, store, yaml, 99, push=browser.subscription()))
        assert ended == ["sms"] * (VAPID_REFUSALS + 1) + ["sms" if stops else "webpush"]
        assert bool(store.channels_off()) is stops
        assert (Channel.WEBPUSH in worker.stopped) is stops
    finally:
        push.close()


@pytest.mark.parametrize(
    ("people", "stops"),
    [
        pytest.param(1, False, id="one-person-refusing-again-and-again"),
        pytest.param(VAPID_REFUSALS, True, id="several-people-in-a-row"),
    ],
)
def test_subscriptions_that_took_our_key_then_refuse_it_stop_push(
    store: Store, fallback: ScriptedTransport, people: int, stops: bool
) -> None:
    """A push to a stored subscription went through: it is marked; when such subscriptions
    of several people then refuse our key in a row, our key is what changed."""
    push = FakePushService()
    private, public = generate_vapid_keys()
    try:
        yaml = rules(Channel.WEBPUSH, Channel.SMS)
        for n in range(people):
            browser = push.subscribe(f"s{n}")
            browser.application_server_key = public
            recipients = stored(store, f"person-{n}", browser.subscription())
            first = deliverer(
                store, {Channel.WEBPUSH: push_transport(private)}, recipients=recipients
            )
            assert run(first, store, yaml, 100 + n, f"person-{n}") == "webpush"
            assert (
                '"proven": true'
                in recipients.fields("c", f"person-{n}")[
                    next(f for f in recipients.fields("c", f"person-{n}") if f.startswith("push:"))
                ]
            )
            push.replies[f"s{n}"] = [(401, {})] * (VAPID_REFUSALS + 1)
        transports = {Channel.WEBPUSH: push_transport(private), Channel.SMS: fallback}
        worker = deliverer(store, transports, recipients=recipients)
        ended = [
            run(worker, store, yaml, n, f"person-{n % people}") for n in range(VAPID_REFUSALS + 1)
        ]
        browser = push.subscribe("genuine")
        browser.application_server_key = public
        ended.append(run(worker, store, yaml, 99, push=browser.subscription()))
        assert ended == ["sms"] * (VAPID_REFUSALS + 1) + ["sms" if stops else "webpush"]
        assert (Channel.WEBPUSH in worker.stopped) is stops
    finally:
        push.close()


def test_a_stored_endpoint_off_the_push_services_is_dropped_never_called(
    store: Store, fallback: ScriptedTransport
) -> None:
    """A subscription stored before endpoints were checked (or before the setting changed):
    the worker never calls it, drops it as gone, and leaves the channel on."""
    push = FakePushService()
    private, _ = generate_vapid_keys()
    recipients = RecipientStore(store.redis, contact_key=CONTACT_KEY)
    recipients.put(
        "c", Recipient.model_validate({"id": "c1", "contacts": {"phone": "+33612345678"}})
    )
    admin = push.subscribe("internal-admin")
    push.replies["internal-admin"] = [(401, {})]
    recipients.add_push("c", "c1", PushSubscription.model_validate(admin.subscription()), 1.0)
    try:
        worker = deliverer(
            store,
            {Channel.WEBPUSH: push_transport(private, PUSH_SERVICES), Channel.SMS: fallback},
            at=DUE,
            recipients=recipients,
        )
        claimed, _ = deliver_one(store, {}, rules(Channel.WEBPUSH, Channel.SMS), 1, "c1")
        assert worker.deliver(claimed.message_id, claimed.claim) is MessageStatus.SENT
        assert push.replies["internal-admin"] == [(401, {})], "never called"
        assert push.delivered == [] and push.refused == []
        assert not any(f.startswith("push:") for f in recipients.fields("c", "c1"))
        record = store.get(claimed.message_id)
        assert record is not None and record.history[-1].channel is Channel.SMS
        assert any("not called" in (h.detail or "") for h in record.history)
        assert store.channels_off() == {} and worker.stopped == {}
    finally:
        push.close()


def test_retry_after_is_honoured_for_twilio(store: Store) -> None:
    """A 429 with Retry-After: the message comes back no sooner than asked."""
    from tests.support.fake_twilio import Reply

    twilio = FakeTwilio()
    try:
        twilio.replies.append(Reply(429, 20429, retry_after="900"))
        sms = TwilioSmsTransport(
            ACCOUNT_SID, "test-auth-token", sender="GENDARMERIE", api_base_url=twilio.url
        )
        worker = deliverer(store, {Channel.SMS: sms}, at=DUE)
        claimed, _ = deliver_one(store, {}, rules(Channel.SMS, Channel.EMAIL), 1)
        status = worker.deliver(claimed.message_id, claimed.claim)
        assert status is MessageStatus.TEMPORARY_FAILURE
        record = store.get(claimed.message_id)
        assert record is not None and record.due_at >= DUE + timedelta(seconds=900)
        assert json.dumps(record.history[-1].detail).find("Twilio 429") > 0
    finally:
        twilio.close()
