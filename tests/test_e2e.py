"""End to end through real processes: HTTP API, scheduler(s), Dramatiq worker, Valkey.

Events are posted over HTTP, and what counts is what lands in the dev outbox and when.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from notifier.rules.engine import plan
from notifier.rules.loader import load_rule_texts
from notifier.runtime.redis_server import free_port
from notifier.store import Store
from tests.support.builders import ROOT, make_event
from tests.support.harness import API_KEY, EngineProcesses, start_notifier_run, wait_for

pytestmark = pytest.mark.e2e

LEAD = 3  # seconds between the reminder and the appointment
RULES = f"""
rules:
  - id: soon-reminder
    trigger: [appointment.booked, appointment.rescheduled]
    at: {LEAD}s before data.starts_at
    template: appointment_reminder
    channels: [sms, email]
    cancel_on: [appointment.cancelled]
    quiet_hours: "off"   # these tests run at any hour
"""


def event(event_id: str, subject: str, starts_in: float, **fields: Any) -> dict[str, Any]:
    starts_at = datetime.now(UTC) + timedelta(seconds=starts_in)
    data = {"starts_at": starts_at.isoformat(), "unit": "Brigade de Lyon", "address": "1 place X"}
    return make_event(id=event_id, subject=subject, data=data, **fields).model_dump(mode="json")


@pytest.fixture(scope="module")
def engine(redis_base_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    processes = EngineProcesses(tmp_path_factory.mktemp("e2e"), redis_base_url, rules=RULES)
    try:
        processes.start_worker()
        processes.start_api()
        processes.start("scheduler", "scheduler")
        yield processes
    finally:
        processes.stop_all()


def sent_at(message: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(message["sent_at"])


def test_reminder_fires_once_on_time(engine: EngineProcesses) -> None:
    response = engine.post(event("on-time-1", "appointment:E2E-1", starts_in=LEAD + 4))
    assert response.status_code == 202, response.text
    (planned,) = response.json()["planned"]
    due = datetime.fromisoformat(planned["due_at"])
    (message,) = wait_for(lambda: engine.sent_for({planned["id"]}), 15, "the reminder")
    lateness = (sent_at(message) - due).total_seconds()
    assert 0 <= lateness <= 2, f"sent {lateness:.3f}s after due"
    assert message["channel"] == "sms" and message["to"] == "+33612345678"
    assert "Brigade de Lyon" in message["content"]["text"]
    time.sleep(1)
    assert len(engine.sent_for({planned["id"]})) == 1
    status = engine.http.get(f"/v1/messages/{planned['id']}").json()
    assert status["status"] == "sent"
    assert [h["status"] for h in status["history"]] == [
        "scheduled",
        "queued",
        "sending",
        "sent",
    ]


def test_cancelled_appointment_sends_nothing(engine: EngineProcesses) -> None:
    booked = engine.post(event("cancel-1", "appointment:E2E-2", starts_in=LEAD + 3)).json()
    (planned,) = booked["planned"]
    cancel = engine.post(
        event("cancel-2", "appointment:E2E-2", starts_in=LEAD + 3, type="appointment.cancelled")
    )
    assert cancel.json()["cancelled"] == [planned["id"]]
    due = datetime.fromisoformat(planned["due_at"])
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 2.5)
    assert engine.sent_for({planned["id"]}) == []
    assert engine.http.get(f"/v1/messages/{planned['id']}").json()["status"] == "cancelled"


def test_rescheduled_appointment_fires_only_at_the_new_time(engine: EngineProcesses) -> None:
    old = engine.post(event("move-1", "appointment:E2E-3", starts_in=LEAD + 3)).json()
    new = engine.post(
        event("move-2", "appointment:E2E-3", starts_in=LEAD + 6, type="appointment.rescheduled")
    ).json()
    (old_message,) = old["planned"]
    (new_message,) = new["planned"]
    assert new["cancelled"] == [old_message["id"]]
    new_due = datetime.fromisoformat(new_message["due_at"])
    (message,) = wait_for(lambda: engine.sent_for({new_message["id"]}), 15, "the new reminder")
    assert 0 <= (sent_at(message) - new_due).total_seconds() <= 2
    time.sleep(1)
    assert engine.sent_for({old_message["id"]}) == []


def test_same_event_twice_sends_once(engine: EngineProcesses) -> None:
    body = event("twice-1", "appointment:E2E-4", starts_in=LEAD + 2)
    first = engine.post(body).json()
    second = engine.post(body).json()
    assert second["duplicate"] is True and second["planned"] == first["planned"]
    ids = {p["id"] for p in first["planned"]}
    wait_for(lambda: engine.sent_for(ids), 15, "the reminder")
    time.sleep(1.5)
    assert len(engine.sent_for(ids)) == 1


def test_api_rejects_bad_requests(engine: EngineProcesses) -> None:
    body = event("bad-1", "appointment:E2E-5", starts_in=60)
    assert httpx.post(f"http://127.0.0.1:{engine.api_port}/v1/events", json=body).status_code == 401
    body["occurred_at"] = "not a date"
    response = engine.post(body)
    assert response.status_code == 422
    assert ["body", "occurred_at"] in [e["loc"] for e in response.json()["detail"]]


def test_no_personal_data_in_any_log(engine: EngineProcesses) -> None:
    """Drive the pipeline with distinctive contacts, then read every process's log."""
    phone, email = "+33698765432", "camille.durand@example.org"
    body = event("pii-1", "appointment:E2E-PII", starts_in=LEAD + 2)
    body["recipient"]["contacts"] = {"phone": phone, "email": email}
    response = engine.post(body)
    ids = {p["id"] for p in response.json()["planned"]}
    wait_for(lambda: engine.sent_for(ids), 15, "the reminder")
    bad = engine.post({**body, "id": "pii-2", "recipient": {**body["recipient"], "id": "x y"}})
    assert bad.status_code == 422  # an error path too: it must not echo contacts in logs
    time.sleep(0.5)
    logs = engine.logs(tail=None)
    assert "sent via sms" in logs  # the logs did record the delivery
    for secret in (phone, phone[3:], "06 98 76 54 32", email, "camille.durand"):
        assert secret not in logs, secret


def test_two_schedulers_and_two_workers_deliver_500_due_messages_exactly_once(
    redis_base_url: str, tmp_path: Path
) -> None:
    processes = EngineProcesses(tmp_path, redis_base_url, rules=RULES, engine_db=2)
    processes.env["NOTIFIER_SCHEDULER_BATCH_SIZE"] = "20"
    processes.env["NOTIFIER_RATE_LIMIT_SMS_PER_SECOND"] = "0"  # exactly-once is the point here
    try:
        processes.start_worker(threads=8)
        processes.start_worker("worker-2", threads=8)
        # both running before anything falls due, or the first may claim it all alone
        processes.start_scheduler("scheduler-a")
        processes.start_scheduler("scheduler-b")
        store = Store.from_url(processes.redis_url)
        ruleset = load_rule_texts([("rules.yaml", RULES)])
        now = datetime.now(UTC)
        ids = set()
        for n in range(500):
            # due over 2.5 s, not all at one instant: one scheduler drained 500 messages due
            # at once in 46 ms before the other woke (a clean-clone run); spread, each
            # scheduler's polls find their share, and the claims really do compete
            starts = (now + timedelta(seconds=LEAD + 2 + n / 200)).isoformat()
            booked = make_event(
                id=f"bulk-{n}",
                subject=f"appointment:BULK-{n}",
                recipient={"id": f"citizen-{n}", "contacts": {"phone": "+33612345678"}},
            )
            booked = booked.model_copy(update={"data": {**booked.data, "starts_at": starts}})
            accepted = store.accept(f"e2e:{booked.id}", plan(booked, ruleset, now), now, ttl=60)
            ids.update(p["id"] for p in accepted.planned)
        assert len(ids) == 500
        wait_for(lambda: len(processes.sent_for(ids)) >= 500, 90, "500 messages", step=0.5)
        time.sleep(2)
        sent = [m["id"] for m in processes.sent_for(ids)]
        assert len(sent) == 500 and set(sent) == ids
        for message_id in list(ids)[:50]:
            record = store.get(message_id)
            assert record is not None
            assert [h.status.value for h in record.history].count("queued") == 1
        logs = [(tmp_path / f"scheduler-{x}.log").read_text() for x in "ab"]
        assert all("enqueued" in log for log in logs), "both schedulers should have claimed"
    except AssertionError:
        print(processes.logs())
        raise
    finally:
        processes.stop_all()


def test_pending_reminder_survives_an_engine_restart(tmp_path: Path) -> None:
    """`notifier run` with its embedded Valkey: stop it with a reminder pending, start again."""
    api_port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("NOTIFIER_")} | {
        "NOTIFIER_DATA_DIR": str(tmp_path / "var"),
        "NOTIFIER_EMBEDDED_REDIS_PORT": str(free_port()),
        "NOTIFIER_API_PORT": str(api_port),
        "NOTIFIER_API_KEYS": f'{{"e2e": "{API_KEY}"}}',
        "NOTIFIER_RULES_DIR": str(tmp_path / "rules"),
        "NOTIFIER_TEMPLATES_DIR": str(ROOT / "examples" / "templates"),
        "NOTIFIER_OUTBOX_DIR": str(tmp_path / "outbox"),
        "NOTIFIER_SCHEDULER_METRICS_PORT": str(free_port()),
        "NOTIFIER_WORKER_METRICS_PORT": str(free_port()),
    }
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "rules.yaml").write_text(RULES)
    http = httpx.Client(
        base_url=f"http://127.0.0.1:{api_port}", headers={"Authorization": f"Bearer {API_KEY}"}
    )
    log = tmp_path / "run.log"

    def outbox() -> list[Path]:
        return list((tmp_path / "outbox").glob("*.json"))

    run = start_notifier_run(tmp_path, env, 30)
    try:
        # due in 10 s: a stop and a start took 4–5 s here
        response = http.post("/v1/events", json=event("restart-1", "appointment:R-1", LEAD + 10))
        assert response.status_code == 202
        (planned,) = response.json()["planned"]
        run.send_signal(signal.SIGINT)
        assert run.wait(45) == 0
        assert (tmp_path / "var" / "valkey" / "appendonlydir").is_dir()
        assert outbox() == []
        run = start_notifier_run(tmp_path, env, 30)
        due = datetime.fromisoformat(planned["due_at"])
        assert datetime.now(UTC) < due, "restart took too long for this test to mean anything"
        wait_for(outbox, 40, "the reminder after restart", step=0.2)
        time.sleep(1)
        (file,) = outbox()
        assert planned["id"] in file.name
    except AssertionError:
        print(log.read_text(errors="replace")[-6000:])
        raise
    finally:
        if run.poll() is None:
            run.send_signal(signal.SIGINT)
            run.wait(45)
        http.close()
