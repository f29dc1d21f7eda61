"""Safe contact in the engine: real store, real templates, each channel's real client against
its loopback peer (Twilio, SMTP, push service), and the API for pause and resume."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from notifier.channels.base import Outcome, SendResult
from notifier.channels.email import SmtpEmailTransport
from notifier.channels.sms import TwilioSmsTransport
from notifier.channels.webpush import WebPushTransport, generate_vapid_keys
from notifier.delivery.decisions import SHOWS_ITS_SITE
from notifier.links import Links, host_of
from notifier.models import Channel, Event, MessageStatus, PushSubscription, Safety
from notifier.rules.engine import plan
from notifier.store import Store
from notifier.store.recipients import RecipientStore
from tests.support.builders import (
    CONTACT_KEY,
    EXAMPLES,
    REMINDER_RULES,
    ScriptedTransport,
    api_client,
    deliver_all,
    deliverer,
    rules_from,
)
from tests.support.fake_push import LOOPBACK_PUSH, FakePushService
from tests.support.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from tests.support.smtp_server import SmtpServer

PARIS = ZoneInfo("Europe/Paris")
EVENT = json.loads((EXAMPLES / "events" / "procedure-status-changed.json").read_text())
NEWS_RULES = rules_from((EXAMPLES / "rules" / "procedures.yaml").read_text())
PAGES = "https://messages.example.net"  # the neutral host of discreet links
NEUTRAL = host_of(PAGES)
PUBLIC = "https://rdv.gendarmerie.example"  # the service's own, which names it
LINKS = Links(CONTACT_KEY, PUBLIC, ttl=timedelta(days=30), discreet_url=PAGES)
NOW = datetime(2026, 11, 28, 9, 10, tzinfo=UTC)
# What the example event says, and none of it may reach a discreet message
PUSH_KEYS = {"p256dh": "B" * 20, "auth": "a" * 16}
REVEALING = ["gendarmerie", "plainte", "parquet", "dossier", "PLAINTE-2026-118", "procédure"]


def accept(store: Store, rules: Any, event: dict[str, Any], now: datetime) -> list[str]:
    planned = plan(Event.model_validate(event), rules, now)
    store.accept(f"c:{event['id']}", planned, now, ttl=60)
    return [m.id for m in planned.messages]


def deliver(
    store: Store, transports: dict[Channel, Any], now: datetime, links: Links = LINKS
) -> list[Any]:
    recipients = RecipientStore(store.redis, contact_key=CONTACT_KEY)
    worker = deliverer(store, transports, at=now, links=links, recipients=recipients)
    return list(deliver_all(worker, now).values())


def discreet_event(channels: list[str], **contacts: Any) -> dict[str, Any]:
    recipient = EVENT["recipient"] | {"safety": {"discreet": True, "channels": channels}}
    if contacts:
        recipient["contacts"] = recipient["contacts"] | contacts
    return EVENT | {"recipient": recipient}


def sent_text(store: Store, message_id: str) -> str:
    record = store.get(message_id)
    assert record is not None and record.status is MessageStatus.SENT, record
    return "\n".join(str(h.detail) for h in record.history)


def assert_discreet(text: str) -> None:
    assert [word for word in REVEALING if word.lower() in text.lower()] == []
    assert f"{PAGES}/me/" in text


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio()
    yield fake
    fake.close()


def test_a_discreet_sms_comes_from_the_neutral_sender(store: Store, twilio: FakeTwilio) -> None:
    sms = TwilioSmsTransport(
        ACCOUNT_SID,
        AUTH_TOKEN,
        sender="GENDARMERIE",
        discreet_sender="+33700000000",
        messaging_service_sid="MG" + "1" * 32,
        api_base_url=twilio.url,
        timeout=2.0,
    )
    (message_id,) = accept(store, NEWS_RULES, discreet_event(["sms"]), NOW)
    assert deliver(store, {Channel.SMS: sms}, NOW) == [MessageStatus.SENT]
    (request,) = twilio.requests
    form = request["form"]
    assert form["From"] == "+33700000000" and "MessagingServiceSid" not in form
    assert_discreet(form["Body"])
    assert form["Body"].startswith("Vous avez un nouveau message. Détails : ")
    record = store.get(message_id)
    assert record is not None
    assert any("webpush is not a safe channel" in str(h.detail) for h in record.history)


def test_without_a_neutral_sender_no_discreet_sms_goes(store: Store, twilio: FakeTwilio) -> None:
    sms = TwilioSmsTransport(
        ACCOUNT_SID, AUTH_TOKEN, sender="GENDARMERIE", api_base_url=twilio.url, timeout=2.0
    )
    (message_id,) = accept(store, NEWS_RULES, discreet_event(["sms"]), NOW)
    assert deliver(store, {Channel.SMS: sms}, NOW) == [MessageStatus.PERMANENT_FAILURE]
    assert twilio.requests == []
    record = store.get(message_id)
    assert record is not None
    notes = [str(h.detail) for h in record.history if h.channel is Channel.SMS]
    assert notes == [
        "permanent: discreet messages need a neutral sender (NOTIFIER_TWILIO_DISCREET_FROM)"
    ]


def test_a_discreet_email_has_a_neutral_from_and_subject(store: Store, tmp_path: Path) -> None:
    server = SmtpServer(tmp_path, require_starttls=True)
    try:
        email = SmtpEmailTransport(
            "127.0.0.1",
            server.port,
            sender="Gendarmerie nationale <ne-pas-repondre@gendarmerie.example>",
            discreet_sender="Mon espace <messages@example.net>",
            tls_context=server.client_context(),
            timeout=5.0,
        )
        accept(store, NEWS_RULES, discreet_event(["email"]), NOW)
        assert deliver(store, {Channel.EMAIL: email}, NOW) == [MessageStatus.SENT]
    finally:
        server.stop()
    (received,) = server.inbox.messages
    (envelope,) = server.inbox.envelopes
    assert received["From"] == "Mon espace <messages@example.net>"
    assert envelope.mail_from == "messages@example.net"
    assert received["Subject"] == "Nouveau message"
    assert "gendarmerie" not in received["Message-ID"]
    assert "List-Unsubscribe" not in received  # optional news, yet no link naming it
    assert received.get_content_type() == "text/plain"
    assert_discreet(received.get_content() + received["Subject"])


def test_a_discreet_push_shows_a_neutral_title_and_body(store: Store) -> None:
    service = FakePushService()
    private, _ = generate_vapid_keys()
    try:
        browser = service.subscribe("phone")
        accept(store, NEWS_RULES, discreet_event(["webpush"]), NOW)
        # subscribed on the pages' neutral host: its notifications show that host only
        subscription = PushSubscription.model_validate(browser.subscription())
        recipients = RecipientStore(store.redis, contact_key=CONTACT_KEY)
        person = EVENT["recipient"]["id"]
        added = NOW.timestamp()
        recipients.add_push("", person, subscription, added, registered_only=False, origin=NEUTRAL)
        push = WebPushTransport(
            private, "mailto:dpo@example.net", timeout=2, allowed_hosts=LOOPBACK_PUSH
        )
        assert deliver(store, {Channel.WEBPUSH: push}, NOW) == [MessageStatus.SENT]
    finally:
        service.close()
    (delivery,) = service.delivered
    payload = delivery.payload
    assert payload["title"] == "Nouveau message"
    assert payload["body"] == "Vous avez un nouveau message."
    assert payload["url"].startswith(f"{PAGES}/me/")
    assert_discreet(json.dumps(payload, ensure_ascii=False))


@pytest.mark.parametrize(
    "channel", [c for c in Channel if c is not Channel.WEBPUSH], ids=lambda c: c.value
)
def test_without_a_neutral_host_a_discreet_message_has_no_link(
    store: Store, channel: Channel
) -> None:
    """NOTIFIER_DISCREET_PUBLIC_URL unset: the public URL's host may name the service, so a
    discreet message goes without a link rather than with it."""
    transport = ScriptedTransport(SendResult(Outcome.SENT, reference="x-1"))
    push = {"endpoint": "https://fcm.googleapis.com/fcm/send/x1", "keys": PUSH_KEYS}
    accept(store, NEWS_RULES, discreet_event([channel.value], push=push), NOW)
    public_only = Links(CONTACT_KEY, PUBLIC, ttl=timedelta(days=30))
    assert deliver(store, {channel: transport}, NOW, public_only) == [MessageStatus.SENT]
    (sent,) = transport.sent
    everything = json.dumps(sent.parts, ensure_ascii=False) + json.dumps(sent.links)
    assert "gendarmerie" not in everything and "/me/" not in everything
    assert "url" not in sent.parts


def test_without_a_neutral_host_no_discreet_push_goes(store: Store) -> None:
    """A browser shows the site it subscribed on with each notification: without a neutral
    host, every subscription was made on one that may name the service."""
    transport = ScriptedTransport(SendResult(Outcome.SENT, reference="x-1"))
    push = {"endpoint": "https://fcm.googleapis.com/fcm/send/x1", "keys": PUSH_KEYS}
    (message_id,) = accept(store, NEWS_RULES, discreet_event(["webpush"], push=push), NOW)
    public_only = Links(CONTACT_KEY, PUBLIC, ttl=timedelta(days=30))
    assert deliver(store, {Channel.WEBPUSH: transport}, NOW, public_only) == [
        MessageStatus.PERMANENT_FAILURE
    ]
    assert transport.sent == []
    record = store.get(message_id)
    assert record is not None
    assert f"skipped: {SHOWS_ITS_SITE}" in [h.detail for h in record.history]


def test_another_address_than_the_safe_one_is_not_written_to(store: Store) -> None:
    """E-mail to this address only: the event brings the household's address (the
    upstream record is older than the person's choice): skipped, the history says why."""
    email = ScriptedTransport(SendResult(Outcome.SENT, reference="e-1"))
    safety = {"channels": ["email"], "contacts": {"email": "camille.safe@example.net"}}
    event = EVENT | {"recipient": EVENT["recipient"] | {"safety": safety}}
    (message_id,) = accept(store, NEWS_RULES, event, NOW)
    assert deliver(store, {Channel.EMAIL: email}, NOW) == [MessageStatus.PERMANENT_FAILURE]
    assert email.sent == []
    record = store.get(message_id)
    assert record is not None
    notes = [str(h.detail) for h in record.history if h.channel is Channel.EMAIL]
    assert notes == ["skipped: this email address is not the one the person said is safe"]


# --- safe times ------------------------------------------------------------------------

SAFE_RULES = rules_from(
    """
rules:
  - id: news
    trigger: [procedure.status_changed]
    template: procedure_status
    channels: [sms]
  - id: urgent
    trigger: [procedure.urgent]
    critical: true
    template: procedure_status
    channels: [sms]
  - id: short-lived
    trigger: [procedure.short]
    expires: 3h after occurred_at
    critical: true
    template: procedure_status
    channels: [sms]
"""
)


def paris(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=PARIS).astimezone(UTC)


def safe_event(event_type: str, at: datetime) -> dict[str, Any]:
    recipient = EVENT["recipient"] | {"safety": {"safe_hours": {"start": "09:00", "end": "17:00"}}}
    return EVENT | {
        "id": f"e-{event_type}",
        "type": event_type,
        "occurred_at": at.isoformat(),
        "recipient": recipient,
    }


@pytest.mark.parametrize(
    "event_type", ["procedure.status_changed", "procedure.urgent"], ids=["normal", "critical"]
)
def test_a_message_due_at_20h_waits_for_9h_next_day(store: Store, event_type: str) -> None:
    sms = ScriptedTransport(SendResult(Outcome.SENT, reference="sms-1"))
    evening = paris(25, 20)
    (message_id,) = accept(store, SAFE_RULES, safe_event(event_type, evening), evening)
    assert deliver(store, {Channel.SMS: sms}, evening) == [MessageStatus.SCHEDULED]
    assert sms.sent == []
    record = store.get(message_id)
    assert record is not None and record.due_at == paris(26, 9)
    assert record.history[-1].detail == (
        f"outside the person's safe hours: deferred to {paris(26, 9).isoformat()}"
    )
    assert record.calls == 0  # held: no provider called (the API's attempts)
    assert deliver(store, {Channel.SMS: sms}, paris(26, 8)) == []  # not yet
    assert deliver(store, {Channel.SMS: sms}, paris(26, 9)) == [MessageStatus.SENT]
    assert len(sms.sent) == 1
    record = store.get(message_id)
    assert record is not None and record.calls == 1


def test_one_whose_expiry_comes_first_expires(store: Store) -> None:
    sms = ScriptedTransport()
    evening = paris(25, 20)
    (message_id,) = accept(store, SAFE_RULES, safe_event("procedure.short", evening), evening)
    assert deliver(store, {Channel.SMS: sms}, evening) == [MessageStatus.EXPIRED]
    record = store.get(message_id)
    assert record is not None and sms.sent == []
    assert record.history[-1].detail == (
        "outside the person's safe hours until its expiry: not sent"
    )


# --- pause -----------------------------------------------------------------------------

KEY = {"Authorization": "Bearer recipients-key"}
PERSON = EVENT["recipient"] | {"safety": {"paused": True}}


@pytest.fixture
def api(store: Store, tmp_path: Path) -> Iterator[TestClient]:
    rules = (EXAMPLES / "rules" / "procedures.yaml").read_text()
    with api_client(store, rules, tmp_path, {"t": "recipients-key"}, clock=lambda: NOW) as client:
        yield client


def paused_and_due(api: TestClient, store: Store) -> tuple[list[str], ScriptedTransport]:
    assert api.put(f"/v1/recipients/{PERSON['id']}", json=PERSON, headers=KEY).status_code == 200
    ids = []
    for n in range(2):
        event = EVENT | {"id": f"e-{n}", "recipient": {"id": PERSON["id"]}}
        response = api.post("/v1/events", json=event, headers=KEY)
        assert response.status_code == 202, response.text
        ids += [m["id"] for m in response.json()["planned"]]
    sms = ScriptedTransport(*[SendResult(Outcome.SENT, reference=f"s{n}") for n in range(2)])
    transports = {c: sms for c in Channel}
    assert deliver(store, transports, NOW) == [MessageStatus.WITHHELD] * 2
    assert sms.sent == []
    for message_id in ids:
        body = api.get(f"/v1/messages/{message_id}", headers=KEY).json()
        assert body["status"] == "withheld", body
    return ids, sms


def test_pause_withholds_and_resume_sends_nothing_missed(api: TestClient, store: Store) -> None:
    _, sms = paused_and_due(api, store)
    response = api.post(f"/v1/recipients/{PERSON['id']}/resume", json={}, headers=KEY)
    assert response.status_code == 200 and response.json() == {
        "recipient": PERSON["id"],
        "resent": [],
    }
    assert api.get(f"/v1/recipients/{PERSON['id']}", headers=KEY).json()["safety"]["paused"] is (
        False
    )
    assert deliver(store, {c: sms for c in Channel}, NOW + timedelta(minutes=1)) == []
    assert sms.sent == []


def test_resume_and_send_what_i_missed(api: TestClient, store: Store) -> None:
    ids, sms = paused_and_due(api, store)
    later = NOW + timedelta(minutes=1)
    response = api.post(
        f"/v1/recipients/{PERSON['id']}/resume", json={"send_missed": True}, headers=KEY
    )
    assert response.status_code == 200 and sorted(response.json()["resent"]) == sorted(ids)
    assert deliver(store, {c: sms for c in Channel}, later) == [MessageStatus.SENT] * 2
    assert len(sms.sent) == 2


def test_what_was_missed_is_only_what_the_latest_pause_withheld(
    api: TestClient, store: Store
) -> None:
    """A person who resumed without asking for what they missed let those messages go: on
    resuming from a later pause, "send what I missed" sends only what that pause withheld."""
    let_go, sms = paused_and_due(api, store)
    assert api.post(f"/v1/recipients/{PERSON['id']}/resume", json={}, headers=KEY).is_success
    later = NOW + timedelta(hours=1)
    people = RecipientStore(store.redis, contact_key=CONTACT_KEY)
    people.set_safety("t", PERSON["id"], Safety(paused=True), by="person", at=later)
    event = EVENT | {"id": "e-later", "recipient": {"id": PERSON["id"]}}
    answer = api.post("/v1/events", json=event, headers=KEY)
    (missed,) = [m["id"] for m in answer.json()["planned"]]
    assert deliver(store, {c: sms for c in Channel}, later) == [MessageStatus.WITHHELD]
    response = api.post(
        f"/v1/recipients/{PERSON['id']}/resume", json={"send_missed": True}, headers=KEY
    )
    assert response.status_code == 200 and response.json()["resent"] == [missed], response.text
    assert all(store.get(i).status is MessageStatus.WITHHELD for i in let_go)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param("appointment.cancelled", "cancelled", id="cancelled-meanwhile"),
        pytest.param("appointment.rescheduled", "replaced", id="moved-meanwhile"),
    ],
)
def test_what_was_missed_holds_no_reminder_of_an_appointment_changed_meanwhile(
    store: Store, tmp_path: Path, change: str, reason: str
) -> None:
    """A reminder withheld during a pause, whose appointment is cancelled or moved before the
    person resumes: "send what I missed" does not send it (the subject's cancellation ended
    it); a moved appointment's new reminders are planned as usual."""
    starts = NOW + timedelta(hours=48, minutes=1)  # the 48 h reminder falls due in a minute
    booked = {
        "id": "booked",
        "type": "appointment.booked",
        "occurred_at": NOW.isoformat(),
        "subject": "appointment:A-1",
        "recipient": {"id": PERSON["id"]},
        "data": {"starts_at": starts.isoformat(), "unit": "Brigade", "address": "12 rue X"},
    }
    changed = booked | {"id": "changed", "type": change}
    changed["data"] = booked["data"] | {"starts_at": (starts + timedelta(days=7)).isoformat()}
    sms = ScriptedTransport(*[SendResult(Outcome.SENT, reference=f"s{n}") for n in range(4)])
    clock = [NOW]
    with api_client(
        store, REMINDER_RULES, tmp_path, {"t": "recipients-key"}, clock=lambda: clock[0]
    ) as api:
        assert (
            api.put(f"/v1/recipients/{PERSON['id']}", json=PERSON, headers=KEY).status_code == 200
        )
        planned = api.post("/v1/events", json=booked, headers=KEY).json()["planned"]
        clock[0] = NOW + timedelta(minutes=2)
        assert deliver(store, {c: sms for c in Channel}, clock[0]) == [MessageStatus.WITHHELD]
        answer = api.post("/v1/events", json=changed, headers=KEY)
        assert answer.status_code == 202, answer.text
        (withheld,) = [m["id"] for m in planned if m["rule"] == "reminder-48h"]
        assert withheld in answer.json()["cancelled"], answer.json()
        resumed = api.post(
            f"/v1/recipients/{PERSON['id']}/resume", json={"send_missed": True}, headers=KEY
        )
        assert resumed.status_code == 200 and resumed.json()["resent"] == [], resumed.text
        record = api.get(f"/v1/messages/{withheld}", headers=KEY).json()
    assert record["status"] == "cancelled", record
    assert deliver(store, {c: sms for c in Channel}, clock[0] + timedelta(minutes=1)) == []
    assert sms.sent == []


def test_resume_checks_its_input(api: TestClient) -> None:
    missing = api.post("/v1/recipients/nobody/resume", json={}, headers=KEY)
    assert missing.status_code == 404
    bad = api.post(f"/v1/recipients/{PERSON['id']}/resume", json={"send_missed": 3}, headers=KEY)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "send_missed"]


def test_safety_in_a_registration_is_checked_naming_the_field(api: TestClient) -> None:
    bad = PERSON | {"safety": {"safe_hours": {"start": "25:00", "end": "17:00"}}}
    response = api.put(f"/v1/recipients/{PERSON['id']}", json=bad, headers=KEY)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:4] == ["body", "safety", "safe_hours", "start"]
