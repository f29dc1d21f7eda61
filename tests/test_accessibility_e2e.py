"""Each accessibility need, end to end: an event posted to the API, the message in the outbox.

The pipeline runs in-process (API through FastAPI's TestClient, real store on Valkey, the
scheduler's claim, the delivery worker's logic, the real dev outbox); the process-level
plumbing is covered by tests/test_e2e.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from notifier.app import create_app
from notifier.channels.outbox import OutboxTransport
from notifier.models import Channel, MessageStatus
from notifier.rules.loader import rules_holder
from notifier.runtime.settings import Settings
from notifier.store import Store
from tests.support.builders import EXAMPLES, deliver_all, deliverer

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 10:00 in Paris: outside quiet hours
KEY = {"Authorization": "Bearer access-key-123"}

Send = Callable[..., list[dict[str, Any]]]


@pytest.fixture
def send(store: Store, tmp_path: Path) -> Send:
    """Post an event, deliver what is due now, return the outbox records it produced."""
    settings = Settings(api_keys={"t": "access-key-123"}, rules_reload_seconds=0)
    app = create_app(settings, store, rules_holder(EXAMPLES / "rules"), clock=lambda: NOW)
    outbox = OutboxTransport(tmp_path)
    worker = deliverer(store, dict.fromkeys(Channel, outbox), at=NOW, sms_normalization="keep")

    def run(
        event_type: str, data: dict[str, Any], *needs: str, phone: bool = True
    ) -> list[dict[str, Any]]:
        event = {
            "id": f"{event_type}-{'-'.join(needs) or 'none'}",
            "type": event_type,
            "occurred_at": NOW.isoformat(),
            "subject": f"test:{'-'.join(needs) or 'none'}",
            "recipient": {
                "id": "c-1",
                "contacts": {"email": "camille@example.org"}
                | ({"phone": "+33612345678"} if phone else {}),
                "needs": list(needs),
            },
            "data": data,
        }
        with TestClient(app) as client:
            response = client.post("/v1/events", json=event, headers=KEY)
        assert response.status_code == 202, response.text
        deliver_all(worker, NOW)
        records = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("*.json"))]
        for p in tmp_path.glob("*.json"):
            p.unlink()
        return records

    return run


BOOKED = {
    "starts_at": "2026-12-10T10:30:00+01:00",
    "unit": "Brigade de Paris 7e",
    "address": "12 rue Exemple, 75007 Paris",
    "unit_phone": "01 45 00 00 00",
}
STATUS = {"reference": "PLAINTE-2026-118", "status_label": "transmise au parquet"}
DOCUMENT = {"document_label": "récépissé", "how_to_get": "À retirer à l'accueil."}


def test_written_contact_only_gets_written_contact_and_114(send: Send) -> None:
    (standard,) = send("appointment.booked", BOOKED)
    (deaf,) = send("appointment.booked", BOOKED, "written_contact_only")
    assert "114" not in standard["content"]["text"]
    assert deaf["content"]["text"].endswith("Urgence : SMS au 114.")
    assert deaf["channel"] == standard["channel"] == "sms"


def test_written_contact_only_email_never_asks_to_phone(send: Send) -> None:
    (standard,) = send("appointment.booked", BOOKED, phone=False)
    (deaf,) = send("appointment.booked", BOOKED, "written_contact_only", phone=False)
    assert standard["channel"] == deaf["channel"] == "email"
    assert "appelez la brigade au 01 45 00 00 00" in standard["content"]["text"]
    for part in ("text", "html"):
        assert "appelez" not in deaf["content"][part]
        assert "envoyez un SMS au 114" in deaf["content"][part]


def test_screen_reader_gets_spoken_times(send: Send) -> None:
    (standard,) = send("appointment.booked", BOOKED)
    (reader,) = send("appointment.booked", BOOKED, "screen_reader")
    assert "à 10 h 30" in standard["content"]["text"]
    assert "à 10 heures 30" in reader["content"]["text"]


def test_easy_read_gets_the_easy_variant(send: Send) -> None:
    (standard,) = send("appointment.booked", BOOKED)
    (easy,) = send("appointment.booked", BOOKED, "easy_read")
    assert standard["content"]["text"].startswith("Gendarmerie : votre rendez-vous est confirmé")
    assert easy["content"]["text"].startswith("Gendarmerie. Vous avez un rendez-vous.")


def test_no_smartphone_no_push_and_short_gsm_sms(store: Store, send: Send) -> None:
    (standard,) = send("document.available", DOCUMENT)
    (basic,) = send("document.available", DOCUMENT, "no_smartphone")
    assert standard["encoding"] == "UCS-2"  # « » kept as written (normalisation: keep)
    assert basic["encoding"] == "GSM-7" and int(basic["segments"]) <= 2
    assert '"récépissé"' in basic["content"]["text"]
    record = store.get(basic["id"])
    assert record is not None
    skipped = [h for h in record.history if h.channel is Channel.WEBPUSH]
    assert skipped and "without a smartphone" in (skipped[0].detail or "")


def test_no_smartphone_too_long_sms_falls_back_to_email(store: Store, send: Send) -> None:
    long_status = {**STATUS, "status_label": "une étape du dossier décrite longuement " * 8}
    (standard,) = send("procedure.status_changed", long_status)
    (basic,) = send("procedure.status_changed", long_status, "no_smartphone")
    assert standard["channel"] == "sms"
    assert basic["channel"] == "email"
    record = store.get(basic["id"])
    assert record is not None and record.status is MessageStatus.SENT
    assert any("too long for a basic phone" in (h.detail or "") for h in record.history)
