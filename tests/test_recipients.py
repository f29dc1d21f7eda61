"""Registered recipients: the API, references from events, opt-outs, STOP, gone subscriptions,
and erasure — over a real Valkey server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from notifier.channels.base import Outcome, SendResult
from notifier.models import Channel, MessageStatus
from notifier.store import PREFIX, Store
from notifier.store.recipients import RecipientStore
from tests.support.builders import (
    CONTACT_KEY,
    NOW,
    ScriptedTransport,
    api_client,
    deliver_all,
    deliverer,
    make_event,
)

KEY = {"Authorization": "Bearer recipients-key"}
RULES = """
rules:
  - id: reminder
    trigger: [appointment.booked]
    at: 48h before data.starts_at
    template: appointment_reminder
    channels: [sms, email]
    cancel_on: [appointment.cancelled]
  - id: news
    trigger: [procedure.status_changed]
    category: news
    template: procedure_status
    channels: [webpush, sms, email]
    replace_pending: false
  - id: status
    trigger: [procedure.closed]
    template: procedure_status
    channels: [sms, email]
"""
CITIZEN = {
    "id": "citizen-7",
    "locale": "fr",
    "timezone": "Europe/Paris",
    "contacts": {"phone": "06 12 34 56 78", "email": "paul@example.org"},
}
STATUS = {"reference": "P-1", "status_label": "transmise"}


@pytest.fixture
def api(store: Store, tmp_path: Path) -> Iterator[TestClient]:
    with api_client(store, RULES, tmp_path, {"t": "recipients-key"}) as client:
        yield client


def deliver_due(
    store: Store, transports: dict[Channel, ScriptedTransport]
) -> list[MessageStatus | None]:
    at = NOW + timedelta(days=2)
    recipients = RecipientStore(store.redis, contact_key=CONTACT_KEY)
    return list(
        deliver_all(deliverer(store, transports, at=at, recipients=recipients), at).values()
    )


def event(event_type: str, data: dict[str, Any], event_id: str = "e1") -> dict[str, Any]:
    return make_event(
        id=event_id, type=event_type, data=data, recipient={"id": "citizen-7"}
    ).model_dump(mode="json", include={"id", "type", "occurred_at", "subject", "data"}) | {
        "recipient": {"id": "citizen-7"}
    }


def test_put_get_and_validation(api: TestClient) -> None:
    response = api.put("/v1/recipients/citizen-7", json=CITIZEN, headers=KEY)
    assert response.status_code == 200, response.text
    assert response.json()["contacts"]["phone"] == "+33612345678"
    assert api.get("/v1/recipients/citizen-7", headers=KEY).json()["contacts"]["email"] == (
        "paul@example.org"
    )
    mismatch = api.put("/v1/recipients/other", json=CITIZEN, headers=KEY)
    assert mismatch.status_code == 422 and mismatch.json()["detail"][0]["loc"] == ["body", "id"]
    bad_phone = {**CITIZEN, "contacts": {"phone": "06 12"}}
    response = api.put("/v1/recipients/citizen-7", json=bad_phone, headers=KEY)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "contacts", "phone"]
    assert api.get("/v1/recipients/nobody", headers=KEY).status_code == 404
    assert api.get("/v1/recipients/citizen-7").status_code == 401


def test_event_can_reference_a_registered_recipient(api: TestClient, store: Store) -> None:
    unknown = api.post("/v1/events", json=event("appointment.booked", {}), headers=KEY)
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["body", "recipient", "id"]
    api.put("/v1/recipients/citizen-7", json=CITIZEN, headers=KEY)
    booked = event("appointment.booked", make_event().data)
    response = api.post("/v1/events", json=booked, headers=KEY)
    assert response.status_code == 202, response.text
    (planned,) = response.json()["planned"]
    record = store.get(planned["id"])
    assert record is not None and record.message.recipient.contacts.phone == "+33612345678"


def test_erasure_cancels_pending_and_removes_every_record(api: TestClient, store: Store) -> None:
    api.put("/v1/recipients/citizen-7", json=CITIZEN, headers=KEY)
    planned = api.post(
        "/v1/events", json=event("appointment.booked", make_event().data), headers=KEY
    ).json()["planned"]
    assert store.pending_count() == 1
    response = api.delete("/v1/recipients/citizen-7", headers=KEY)
    assert response.status_code == 200 and response.json()["messages_removed"] == 1
    assert store.pending_count() == 0
    assert api.get(f"/v1/messages/{planned[0]['id']}", headers=KEY).status_code == 404
    assert api.get("/v1/recipients/citizen-7", headers=KEY).status_code == 404
    stored = everything_stored(store)
    assert "citizen-7" not in stored and CITIZEN["contacts"]["phone"] not in stored
    assert store.redis.hgetall(f"{PREFIX}subjects") == {}


def everything_stored(store: Store) -> str:
    """Every key, field, member and value on the server, as one text to search."""
    read = {"string": "get", "hash": "hgetall", "set": "smembers", "zset": "zrange"}
    parts = []
    for key in store.redis.scan_iter():
        kind = read[store.redis.type(key)]
        contents = getattr(store.redis, kind)(key, *((0, -1) if kind == "zrange" else ()))
        parts.append(f"{key} {contents}")
    return "\n".join(parts)


def test_category_opt_out_is_honoured_but_not_for_service_messages(
    api: TestClient, store: Store
) -> None:
    opted = CITIZEN | {"opt_outs": [{"category": "news", "channels": ["sms"]}]}
    api.put("/v1/recipients/citizen-7", json=opted, headers=KEY)
    api.post("/v1/events", json=event("procedure.status_changed", STATUS), headers=KEY)
    sms = ScriptedTransport(SendResult(Outcome.SENT), SendResult(Outcome.SENT))
    email = ScriptedTransport(SendResult(Outcome.SENT))
    assert deliver_due(store, {Channel.SMS: sms, Channel.EMAIL: email}) == [MessageStatus.SENT]
    assert sms.sent == [] and len(email.sent) == 1  # news by SMS: opted out
    api.post("/v1/events", json=event("procedure.closed", STATUS, "e2"), headers=KEY)
    deliver_due(store, {Channel.SMS: sms, Channel.EMAIL: email})
    assert len(sms.sent) == 1  # a service message ignores category opt-outs


def test_sms_stop_closes_the_channel_for_good(api: TestClient, store: Store) -> None:
    api.put("/v1/recipients/citizen-7", json=CITIZEN, headers=KEY)
    api.post("/v1/events", json=event("procedure.closed", STATUS), headers=KEY)
    sms = ScriptedTransport(SendResult(Outcome.GONE, reason="Twilio 21610: STOP"))
    email = ScriptedTransport(SendResult(Outcome.SENT), SendResult(Outcome.SENT))
    deliver_due(store, {Channel.SMS: sms, Channel.EMAIL: email})
    assert api.get("/v1/recipients/citizen-7", headers=KEY).json()["blocked"] == ["sms"]
    api.post("/v1/events", json=event("procedure.closed", STATUS, "e2"), headers=KEY)
    deliver_due(store, {Channel.SMS: sms, Channel.EMAIL: email})
    assert len(sms.sent) == 1 and len(email.sent) == 2
    # a new PUT of the profile does not reopen what the provider closed
    api.put("/v1/recipients/citizen-7", json=CITIZEN, headers=KEY)
    assert api.get("/v1/recipients/citizen-7", headers=KEY).json()["blocked"] == ["sms"]


def test_gone_push_subscription_is_deleted_and_sms_used(api: TestClient, store: Store) -> None:
    api.put("/v1/recipients/citizen-7", json=CITIZEN, headers=KEY)
    subscription = {
        "endpoint": "https://fcm.googleapis.com/fcm/send/abc",
        "keys": {"p256dh": "B" + "A" * 86, "auth": "A" * 22},
    }
    added = api.post("/v1/recipients/citizen-7/push-subscriptions", json=subscription, headers=KEY)
    assert added.status_code == 201
    missing = api.post("/v1/recipients/nobody/push-subscriptions", json=subscription, headers=KEY)
    assert missing.status_code == 404
    stored = api.get("/v1/recipients/citizen-7", headers=KEY).json()
    assert stored["contacts"]["push"]["endpoint"] == "https://fcm.googleapis.com/fcm/send/abc"
    api.post("/v1/events", json=event("procedure.status_changed", STATUS), headers=KEY)
    push = ScriptedTransport(SendResult(Outcome.GONE, reason="410"))
    sms = ScriptedTransport(SendResult(Outcome.SENT))
    assert deliver_due(store, {Channel.WEBPUSH: push, Channel.SMS: sms}) == [MessageStatus.SENT]
    assert len(push.sent) == len(sms.sent) == 1
    assert api.get("/v1/recipients/citizen-7", headers=KEY).json()["contacts"]["push"] is None


def test_choices_made_after_planning_apply_at_send_time(api: TestClient, store: Store) -> None:
    """The worker reads the registered recipient when it starts sending, not the snapshot."""
    api.put("/v1/recipients/citizen-7", json=CITIZEN, headers=KEY)
    api.post("/v1/events", json=event("procedure.status_changed", STATUS), headers=KEY)
    opted = CITIZEN | {"opt_outs": [{"category": "news", "channels": ["sms"]}]}
    api.put("/v1/recipients/citizen-7", json=opted, headers=KEY)
    sms = ScriptedTransport(SendResult(Outcome.SENT))
    email = ScriptedTransport(SendResult(Outcome.SENT))
    assert deliver_due(store, {Channel.SMS: sms, Channel.EMAIL: email}) == [MessageStatus.SENT]
    assert sms.sent == [] and len(email.sent) == 1


def test_erasure_takes_the_person_out_of_the_contact_index(store: Store) -> None:
    """The support console finds people by keyed hash of their contacts: erased, not found."""
    from notifier.rules.engine import plan
    from tests.support.builders import CONTACT_KEY, NOW, REMINDER_RULES, make_event, rules_from

    indexed = Store(store.redis, contact_key=CONTACT_KEY)
    recipients = RecipientStore(store.redis, contact_key=CONTACT_KEY)
    for n, who in enumerate(["citizen-1", "citizen-2"]):
        event = make_event(
            id=f"e{n}",
            subject=f"appointment:{n}",
            recipient={
                "id": who,
                "contacts": {"phone": "+33612345678", "email": f"{who}@example.org"},
            },
        )
        indexed.accept(
            f"c:e{n}", plan(event, rules_from(REMINDER_RULES), NOW, client="c"), NOW, ttl=60
        )
    assert sorted(recipients.by_contact("+33612345678")) == [("c", "citizen-1"), ("c", "citizen-2")]
    assert recipients.by_contact("citizen-1@example.org") == [("c", "citizen-1")]
    recipients.erase("c", "citizen-1")
    assert recipients.by_contact("+33612345678") == [("c", "citizen-2")]
    assert recipients.by_contact("citizen-1@example.org") == []


def test_a_contact_many_recipients_share_costs_each_the_same(store: Store) -> None:
    """One phone and address named by hundreds of recipients (a victim-support office, a
    placeholder an upstream fills in): each event stores a bounded index entry, instead of
    copying a list of every recipient so far (quadratic: the benchmark's batch ingest fell to
    a third as its 10 000 events shared a phone)."""
    from notifier.rules.engine import plan
    from tests.support.builders import REMINDER_RULES, rules_from

    indexed = Store(store.redis, contact_key=CONTACT_KEY)
    rules, shared = rules_from(REMINDER_RULES), {"phone": "+33612345678", "email": "a@b.fr"}
    plans = [
        (
            f"c:e{n}",
            plan(
                make_event(
                    id=f"e{n}",
                    subject=f"appointment:{n}",
                    recipient={"id": f"citizen-{n}", "contacts": shared},
                ),
                rules,
                NOW,
                client="c",
            ),
        )
        for n in range(300)
    ]
    indexed.accept_many(plans, NOW, ttl=60)
    recipients = RecipientStore(store.redis, contact_key=CONTACT_KEY)
    assert sorted(recipients.by_contact("+33612345678")) == sorted(
        ("c", f"citizen-{n}") for n in range(300)
    )
    assert len(recipients.by_contact("A@B.fr")) == 300
    for key in store.redis.scan_iter(f"{PREFIX}contacts:*"):
        entries = (
            store.redis.zrange(key, 0, -1)
            if store.redis.type(key) == "zset"
            else store.redis.hvals(key)
        )
        assert max(map(len, entries)) < 100, f"{key}: an entry grows with its recipients"
