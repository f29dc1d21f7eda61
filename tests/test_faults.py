"""Faults, on real processes and a dedicated real server, each bounded in time.

* Redis stopped for 30 s with reminders pending, one due during the outage, and a burst of
  150 falling due as it stops (at least 100 queued or mid-send), two worker processes: the
  API answers 503 with Retry-After meanwhile, everything resumes by itself afterwards, each
  reminder is delivered exactly once, the last within 60 s of Redis's return.
* A worker SIGKILLed in a 2 000-message burst: every message delivered, none twice, and
  the time to recover reported.
* The SMS provider answering 503 for a while: delivered after it recovers, never after a
  message's expiry.
* A worker told to stop while a delivery waits out another attempt's provider call: it
  stops in seconds, leaving the message to its next claim.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from notifier.runtime.redis_server import EmbeddedValkey, free_port
from tests.support.builders import claim, make_event
from tests.support.harness import EngineProcesses, wait_for

pytestmark = pytest.mark.e2e

OUTAGE_SECONDS = 30
RULES = """
rules:
  - id: reminder
    trigger: [appointment.booked]
    at: 5s before data.starts_at
    template: appointment_reminder
    channels: [sms]
    quiet_hours: "off"
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedValkey]:
    valkey = EmbeddedValkey(tmp_path / "valkey", free_port())
    valkey.start()
    yield valkey
    valkey.stop()


def booked(
    event_id: str, starts_in: float = 0, starts_at: datetime | None = None
) -> dict[str, Any]:
    starts_at = starts_at or datetime.now(UTC) + timedelta(seconds=starts_in)
    event = make_event(
        id=event_id,
        subject=f"appointment:{event_id}",
        recipient={"id": f"citizen-{event_id}", "contacts": {"phone": "+33612345678"}},
        data={"starts_at": starts_at.isoformat(), "unit": "Brigade", "address": "1 rue X"},
    )
    return event.model_dump(mode="json")


def test_redis_outage_503_then_everything_resumes(server: EmbeddedValkey, tmp_path: Path) -> None:
    engine = EngineProcesses(tmp_path / "engine", server.connection_url, rules=RULES)
    # The shared SMS rate limit keeps the burst in flight when the server stops (at most two
    # 1-s windows of it are sent before), and paces its recovery: 150 at 20/s, not the
    # default 10/s (15 s of this test)
    engine.env["NOTIFIER_RATE_LIMIT_SMS_PER_SECOND"] = "20"
    try:
        # Two worker processes: after an outage longer than Dramatiq's heartbeat timeout,
        # each looks dead to the other, and Dramatiq hands one's unfinished messages to the
        # other while the first still works on them. They must not both send.
        engine.start_worker("worker-a")
        engine.start_worker("worker-b")
        engine.start_api()
        engine.start("scheduler", "scheduler")
        before = engine.post(booked("before-outage", starts_in=5 + 3))  # due in 3 s
        during = engine.post(booked("due-in-outage", starts_in=5 + 12))  # due mid-outage
        planned = [r.json()["planned"][0]["id"] for r in (before, during)]
        wait_for(lambda: engine.sent_for({planned[0]}), 15, "the first reminder")
        # a burst falling due just as the server stops: claimed, queued or mid-send
        burst_due = datetime.now(UTC) + timedelta(seconds=6)  # the same instant for all
        burst = {
            engine.post(booked(f"burst-{n}", starts_at=burst_due + timedelta(seconds=5))).json()[
                "planned"
            ][0]["id"]
            for n in range(150)
        }
        time.sleep(max(0.0, (burst_due - datetime.now(UTC)).total_seconds()) + 0.5)
        in_flight = engine.statuses(burst)
        assert in_flight.get("queued", 0) + in_flight.get("sending", 0) >= 100, in_flight

        # due 4 s after the server is back
        later = engine.post(booked("after-outage", starts_in=5 + OUTAGE_SECONDS + 4))
        planned.append(later.json()["planned"][0]["id"])
        server.stop()  # SIGTERM: the append-only file is flushed
        down_since = time.monotonic()
        refused = engine.post(booked("while-down", starts_in=3600))
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "5"
        assert "nothing was stored" in refused.json()["detail"]
        assert engine.http.get("/healthz").status_code == 503
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_since)))

        restarted = EmbeddedValkey(server.data_dir, server.port)
        restarted.start()
        back_at = datetime.now(UTC)
        server.process = restarted.process  # the fixture stops whichever runs
        wait_for(lambda: engine.http.get("/healthz").status_code == 200, 20, "the API to recover")
        again = engine.post(booked("after-restart", starts_in=3600))
        assert again.status_code == 202
        assert not again.json()["duplicate"]
        assert engine.post(booked("while-down", starts_in=3600)).json()["duplicate"] is False

        # messages mid-delivery when the server stopped resume where they were (the worker
        # waits for Redis: NOTIFIER_WORKER_REDIS_WAIT_SECONDS), the reminder due during the
        # outage goes out, all within 60 s of the return; then the later one, once each
        owed = burst | {planned[1]}
        left = 60 - (datetime.now(UTC) - back_at).total_seconds()
        try:
            wait_for(lambda: len(engine.sent_for(owed)) >= len(owed), left, "the burst")
        except AssertionError:
            print(engine.explain(owed - {m["id"] for m in engine.sent_for(owed)}))
            raise
        wait_for(lambda: engine.sent_for({planned[2]}), 60, "the reminder due after it")
        time.sleep(1)
        sent = engine.sent_for(set(planned) | burst)
        ids = [m["id"] for m in sent]
        if sorted(ids) != sorted(set(planned) | burst):  # each once, none lost
            twice = {i for i in ids if ids.count(i) > 1}
            print(engine.explain(twice | (set(planned) | burst) - set(ids)))
            assert sorted(ids) == sorted(set(planned) | burst)
        # bounded: whatever was in flight or due during the outage is out within 60 s
        last = max(datetime.fromisoformat(m["sent_at"]) for m in sent if m["id"] != planned[2])
        print(f"\nRedis outage: {len(burst)} in flight {in_flight}, last out {last - back_at}")
        assert last - back_at <= timedelta(seconds=60)
    except AssertionError:
        print(engine.logs())
        raise
    finally:
        engine.stop_all()


def test_sigkill_a_worker_mid_burst(server: EmbeddedValkey, tmp_path: Path) -> None:
    """2 000 messages, two worker processes, one killed with SIGKILL mid-burst."""
    import os
    import signal

    from notifier.rules.engine import plan
    from notifier.rules.loader import load_rule_texts
    from notifier.store import Store

    engine = EngineProcesses(tmp_path / "engine", server.connection_url, rules=RULES)
    engine.env |= {"NOTIFIER_RATE_LIMIT_SMS_PER_SECOND": "0", "NOTIFIER_RECIPIENT_CAP_MAX": "0"}
    try:
        engine.start_worker("worker-a")
        engine.start_worker("worker-b")
        store = Store.from_url(engine.redis_url)
        ruleset = load_rule_texts([("rules.yaml", RULES)])
        now = datetime.now(UTC)
        ids: set[str] = set()
        pipe_args = []
        for n in range(2000):
            event = make_event(
                id=f"burst-{n}",
                subject=f"appointment:B-{n}",
                recipient={"id": f"c-{n}", "contacts": {"phone": "+33612345678"}},
                data={
                    "starts_at": (now + timedelta(seconds=8)).isoformat(),
                    "unit": "Brigade",
                    "address": "1 rue X",
                },
            )
            pipe_args.append((f"e:{event.id}", plan(event, ruleset, now)))
        for key, decided in pipe_args:
            ids.update(m.id for m in decided.messages)
            store.accept(key, decided, now, ttl=600)
        engine.start("scheduler", "scheduler")
        wait_for(lambda: len(engine.sent_for(ids)) >= 300, 60, "300 deliveries", step=0.2)
        victim = engine.processes.pop("worker-a")
        os.killpg(victim.pid, signal.SIGKILL)
        killed_at = time.time()
        victim.wait()
        wait_for(lambda: len({m["id"] for m in engine.sent_for(ids)}) >= 2000, 120, "all", step=0.5)
        time.sleep(2)
        sent = engine.sent_for(ids)
        delivered = {m["id"] for m in sent}
        duplicates = len(sent) - len(delivered)
        last = max(datetime.fromisoformat(m["sent_at"]).timestamp() for m in sent)
        statuses = [store.get(i).status.value for i in ids]  # type: ignore[union-attr]
        print(
            f"\nSIGKILL burst: {len(delivered)}/2000 delivered, {duplicates} duplicates, "
            f"last delivery {last - killed_at:.1f}s after the kill, "
            f"{statuses.count('technical-failure')} ended as interrupted"
        )
        assert delivered == ids
        assert duplicates == 0
        assert last - killed_at <= 20  # heartbeat 10 s + maintenance + the rest of the burst
    except AssertionError:
        print(engine.logs())
        raise
    finally:
        engine.stop_all()


def test_sigkill_a_worker_in_the_middle_of_a_batch(server: EmbeddedValkey, tmp_path: Path) -> None:
    """Batches of 50 sent concurrently to a Twilio answering after 1.5 s; the worker is
    killed while dozens of calls are in flight. Nothing is sent twice: a call that had
    started (marked before the request left) ends as an interrupted technical failure
    (Twilio cannot be asked whether it went out), every other message of the killed batches
    is delivered by the next worker."""
    import os
    import signal

    from notifier.store import Store
    from tests.support.fake_twilio import FakeTwilio

    twilio = FakeTwilio(delay=1.5)
    engine = EngineProcesses(tmp_path / "engine", server.connection_url, rules=RULES)
    engine.env |= twilio.settings() | {
        "NOTIFIER_TWILIO_STATUS_CALLBACK_URL": "https://notifier.example/v1/callbacks/twilio",
        "NOTIFIER_RATE_LIMIT_SMS_PER_SECOND": "0",
        "NOTIFIER_RECIPIENT_CAP_MAX": "0",
        "NOTIFIER_DELIVERY_BATCH_SIZE": "50",
        "NOTIFIER_WORKER_SENDS_IN_FLIGHT": "60",
        "NOTIFIER_PROVIDER_TIMEOUT_SECONDS": "3",
        # the killed worker's batches are handed over 3 s after its last heartbeat, not 10
        "NOTIFIER_BROKER_HEARTBEAT_TIMEOUT_MS": "3000",
    }
    try:
        engine.start_api()
        engine.start_worker("worker-a", threads=2)
        reminders = [engine.post(booked(f"k-{n}", starts_in=6)) for n in range(150)]
        ids = {r.json()["planned"][0]["id"] for r in reminders}
        engine.start("scheduler", "scheduler")
        wait_for(lambda: len(twilio.requests) >= 40, 60, "40 calls under way", step=0.05)
        victim = engine.processes.pop("worker-a")
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()
        called_before = {r["form"]["StatusCallback"].rsplit("=", 1)[1] for r in twilio.requests}
        peak_before = twilio.peak
        engine.start_worker("worker-b")
        store = Store.from_url(engine.redis_url)

        def status(message_id: str) -> str:
            return store.get(message_id).status.value  # type: ignore[union-attr]

        done = ("sent", "technical-failure")
        wait_for(lambda: all(status(i) in done for i in ids), 90, "every message ended", 0.5)
        called = [r["form"]["StatusCallback"].rsplit("=", 1)[1] for r in twilio.requests]
        statuses = {i: status(i) for i in ids}
        interrupted = {i for i, s in statuses.items() if s == "technical-failure"}
        print(
            f"\nSIGKILL mid-batch: {len(called_before)} calls before the kill (peak "
            f"{peak_before} at once), {len(interrupted)} interrupted, "
            f"{len(ids) - len(interrupted)} sent"
        )
        assert peak_before > 4, "a batch's sends run concurrently, not one per worker thread"
        assert len(called) == len(set(called)), "a message was sent twice"
        assert interrupted, "the kill hit calls in flight"
        # In doubt: only calls under way (marked, maybe not yet at Twilio), never resent
        # (a request sent just before the kill may reach the fake after it: when a call
        # arrived says nothing here, only how many times each message was called).
        assert len(interrupted) <= 60
        # Every other message of the killed batches went out, once.
        assert {i for i, s in statuses.items() if s == "sent"} == ids - interrupted
        assert ids - interrupted <= set(called)
        assert len(ids - interrupted) > len(called_before)  # the next worker sent the rest
    except AssertionError:
        print(engine.logs())
        raise
    finally:
        engine.stop_all()
        twilio.close()


def test_a_worker_stops_at_once_though_a_delivery_waits_for_another_attempt(
    server: EmbeddedValkey, tmp_path: Path
) -> None:
    """SIGTERM while a delivery waits out another attempt's Twilio call (21 s with the
    default timeout, up to three times): the worker leaves the message to its next claim
    and stops in seconds, within Dramatiq's 30-s shutdown timeout; nothing is sent."""
    import signal

    from dramatiq.brokers.redis import RedisBroker

    from notifier.rules.engine import plan
    from notifier.rules.loader import load_rule_texts
    from notifier.scheduling.broker import enqueue_deliveries
    from notifier.store import Store
    from tests.support.fake_twilio import FakeTwilio

    twilio = FakeTwilio()
    engine = EngineProcesses(tmp_path / "engine", server.connection_url, rules=RULES)
    engine.env |= twilio.settings()
    broker = RedisBroker(url=f"{server.connection_url}/{engine.env['NOTIFIER_BROKER_REDIS_DB']}")
    try:
        engine.start_worker()
        store = Store.from_url(engine.redis_url)
        now = datetime.now(UTC)
        event = make_event(
            id="busy-1",
            subject="appointment:busy-1",
            recipient={"id": "citizen-busy", "contacts": {"phone": "+33612345678"}},
            data={
                "starts_at": (now + timedelta(seconds=5)).isoformat(),
                "unit": "B",
                "address": "X",
            },
        )
        rules = load_rule_texts([("r.yaml", RULES)])
        store.accept("e:busy-1", plan(event, rules, now), now, ttl=60)
        due = now + timedelta(seconds=1)
        (claimed,) = claim(store, due, limit=1)
        # another attempt of the same claim is mid-call (a worker that lost Redis, say)
        store.begin_send(
            claimed.message_id, claimed.claim, now, lease=timedelta(minutes=5), attempt="other"
        )
        store.provider_call(claimed.message_id, claimed.claim, "other", "sms", now)
        enqueue_deliveries(broker, [claimed], 50)
        wait_for(
            lambda: broker.client.llen("dramatiq:deliveries") == 0, 10, "the worker to take it"
        )
        time.sleep(1)  # waiting now, in its first call window
        worker = engine.processes.pop("worker")
        asked = time.monotonic()
        worker.send_signal(signal.SIGTERM)  # to Dramatiq's main process, as an operator would
        worker.wait(40)
        stopped_in = time.monotonic() - asked
        log = (engine.workdir / "worker.log").read_text()
        assert "left to its next claim (this worker is stopping)" in log, log[-3000:]
        assert stopped_in < 10, f"the worker took {stopped_in:.1f} s to stop"
        assert twilio.requests == []
    finally:
        broker.close()
        engine.stop_all()
        twilio.close()


def test_provider_outage_then_recovery(server: EmbeddedValkey, tmp_path: Path) -> None:
    """Twilio answers 503 for 8 s: messages go out after it recovers, none after its expiry."""
    from tests.support.fake_twilio import FakeTwilio

    rules = (
        RULES
        + """
  - id: short-lived
    trigger: [procedure.status_changed]
    expires: 4s after occurred_at
    template: procedure_status
    channels: [sms]
    quiet_hours: "off"
"""
    )
    twilio = FakeTwilio()
    engine = EngineProcesses(tmp_path / "engine", server.connection_url, rules=rules)
    engine.env |= twilio.settings() | {"NOTIFIER_RETRY_BASE_SECONDS": "1"}
    try:
        engine.start_worker()
        engine.start_api()
        engine.start("scheduler", "scheduler")
        # the 8 s begin with the events, not before the processes start: a slow start
        # (a loaded machine) ended the outage before the short-lived message's first try
        twilio.outage_until = time.time() + 8
        reminders = [engine.post(booked(f"o-{n}", starts_in=5 + 1)) for n in range(5)]
        ids = {r.json()["planned"][0]["id"] for r in reminders}
        news = make_event(
            id="news-1",
            type="procedure.status_changed",
            occurred_at=datetime.now(UTC).isoformat(),
            data={"reference": "R-1", "status_label": "transmise"},
        )
        (short,) = engine.post(news.model_dump(mode="json")).json()["planned"]

        def final(message_id: str) -> str | None:
            status = engine.http.get(f"/v1/messages/{message_id}").json()["status"]
            return status if status in ("sent", "expired", "permanent-failure") else None

        wait_for(lambda: all(final(i) for i in ids | {short["id"]}), 60, "final statuses", 0.5)
        assert {final(i) for i in ids} == {"sent"}
        assert final(short["id"]) == "expired"
        during = [r for r in twilio.requests if r["at"] < twilio.outage_until]
        assert during, "the outage was exercised"
        after = [r["form"]["Body"] for r in twilio.requests if r["at"] >= twilio.outage_until]
        assert len(after) == 5  # each reminder once after recovery, the expired one never
        assert not any("R-1" in body for body in after)
        history = engine.http.get(f"/v1/messages/{next(iter(ids))}").json()["history"]
        assert "temporary-failure" in [h["status"] for h in history]
    except AssertionError:
        print(engine.logs())
        raise
    finally:
        engine.stop_all()
        twilio.close()


def test_a_worker_store_waits_for_redis_and_the_api_store_does_not(
    server: EmbeddedValkey,
) -> None:
    """What lets a delivery resume where it was: the worker's client rides out the outage."""
    import threading

    import redis

    from notifier.store import Store

    patient = Store.from_url(server.connection_url, outage_wait=20)
    impatient = Store.from_url(server.connection_url)
    assert patient.ping() and impatient.ping()
    server.stop()
    with pytest.raises(redis.ConnectionError):
        impatient.ping()
    restarted = EmbeddedValkey(server.data_dir, server.port)
    timer = threading.Timer(2.0, restarted.start)
    timer.start()
    started = time.monotonic()
    try:
        assert patient.ping()  # blocks until the server is back
        assert 1.5 < time.monotonic() - started < 15
    finally:
        timer.join()
        server.process = restarted.process
