"""Twilio delivery receipts: signatures checked, delivered recorded, undelivered falls back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from fastapi.testclient import TestClient
from twilio.request_validator import RequestValidator

from notifier.channels.base import Outcome, SendResult
from notifier.models import Channel, MessageStatus
from notifier.store import Store
from tests.support.builders import (
    DUE,
    REMINDER_RULES,
    ScriptedTransport,
    api_client,
    claim,
    deliverer,
    schedule,
)

PUBLIC = "https://notifier.example.fr/v1/callbacks/twilio"
TOKEN = "twilio-auth-token"


@pytest.fixture
def api(store: Store, tmp_path: Path) -> Iterator[TestClient]:
    with api_client(
        store,
        REMINDER_RULES,
        tmp_path,
        {"t": "a-long-key"},
        twilio_auth_token=TOKEN,
        twilio_status_callback_url=PUBLIC,
        clock=lambda: DUE,
    ) as client:
        yield client


def sent_sms(store: Store) -> tuple[str, str]:
    """A message sent by SMS with Twilio reference SM123: (message id, Twilio SID)."""
    claimed = schedule(store)
    sms = ScriptedTransport(SendResult(Outcome.SENT, reference="twilio:SM123"))
    worker = deliverer(store, {Channel.SMS: sms})
    assert worker.deliver(claimed.message_id, claimed.claim) is MessageStatus.SENT
    return claimed.message_id, "SM123"


def post(
    client: TestClient, message_id: str, form: dict[str, str], signature: str | None = None
) -> httpx.Response:
    url = f"{PUBLIC}?message_id={message_id}"
    if signature is None:
        signature = RequestValidator(TOKEN).compute_signature(url, form)
    return client.post(
        f"/v1/callbacks/twilio?message_id={message_id}",
        content=urlencode(form),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    )


def test_signed_delivered_receipt_is_recorded(api: TestClient, store: Store) -> None:
    message_id, sid = sent_sms(store)
    response = post(api, message_id, {"MessageSid": sid, "MessageStatus": "delivered"})
    assert response.status_code == 204
    record = store.get(message_id)
    assert record is not None and record.status is MessageStatus.DELIVERED


def test_forged_receipt_is_refused(api: TestClient, store: Store) -> None:
    message_id, sid = sent_sms(store)
    form = {"MessageSid": sid, "MessageStatus": "delivered"}
    assert post(api, message_id, form, signature="forged").status_code == 403
    assert post(api, message_id, form, signature="").status_code == 403
    # signed for another message: the query string is part of what is signed
    other = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}?message_id=other", form)
    assert post(api, message_id, form, signature=other).status_code == 403
    record = store.get(message_id)
    assert record is not None and record.status is MessageStatus.SENT


def test_undelivered_falls_back_to_the_next_channel(api: TestClient, store: Store) -> None:
    message_id, sid = sent_sms(store)
    form = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert post(api, message_id, form).status_code == 204
    (again,) = claim(store, DUE + timedelta(seconds=1), limit=5)
    sms = ScriptedTransport(SendResult(Outcome.SENT))
    email = ScriptedTransport(SendResult(Outcome.SENT, reference="smtp:<x>"))
    worker = deliverer(store, {Channel.SMS: sms, Channel.EMAIL: email})
    assert worker.deliver(again.message_id, again.claim) is MessageStatus.SENT
    assert sms.sent == [] and len(email.sent) == 1
    record = store.get(message_id)
    assert record is not None
    details = [h.detail or "" for h in record.history]
    assert any("not delivered on sms: Twilio undelivered, error 30003" in d for d in details)


def test_receipt_of_an_earlier_attempt_is_ignored(api: TestClient, store: Store) -> None:
    message_id, _ = sent_sms(store)
    form = {"MessageSid": "SMold", "MessageStatus": "failed"}
    assert post(api, message_id, form).status_code == 204
    record = store.get(message_id)
    assert record is not None and record.status is MessageStatus.SENT


def test_callbacks_refused_when_not_configured(store: Store, tmp_path: Path) -> None:
    with api_client(store, REMINDER_RULES, tmp_path, {"t": "a-long-key"}) as client:
        assert post(client, "AAAAAAAAAAAAAAAA", {"MessageStatus": "delivered"}).status_code == 403
