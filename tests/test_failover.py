"""The primary SIGKILLed under load: Sentinel promotes a replica, every notifier process
follows it by itself, and nothing answered 202 is lost or sent twice.

Real processes on loopback: a Valkey primary with two replicas (after the failover, the new
primary still has one to confirm writes to: with a single replica, no write could be
confirmed, so nothing answered 202, until the old primary came back), three sentinels, the
API, a scheduler, two workers, the loopback Twilio peer, and a client posting events one
after the other that retries on 503 as an upstream would.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from notifier.runtime.redis_server import EmbeddedValkey
from tests.support.fake_twilio import FakeTwilio
from tests.support.harness import EngineProcesses, wait_for
from tests.support.replicated import Sentinels, topology

pytestmark = pytest.mark.e2e

RULES = """
rules:
  - id: confirmation
    trigger: [appointment.booked]
    at: immediately
    template: appointment_confirmation
    channels: [sms]
    quiet_hours: "off"
"""


def booked(event_id: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "appointment.booked",
        "occurred_at": "2026-06-10T08:00:00+00:00",
        "subject": f"appointment:{event_id}",
        "recipient": {"id": f"citizen-{event_id}", "contacts": {"phone": "+33612345678"}},
        "data": {
            "starts_at": "2030-06-10T10:00:00+00:00",
            "unit": "Brigade",
            "address": "1 rue X",
        },
    }


class Upstream:
    """Posts events one after the other; each is retried on 503 until it gets its 202."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        # (when sent, when answered, status or transport error)
        self.answers: list[tuple[float, float, int | str]] = []
        self.planned: dict[str, list[str]] = {}  # event id → message ids of its 202
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            event_id = f"f-{n}"
            while True:
                sent_at = time.monotonic()
                try:
                    status: int | str = (
                        answer := self.http.post("/v1/events", json=booked(event_id))
                    ).status_code
                except httpx.TransportError as exc:
                    status = type(exc).__name__
                self.answers.append((sent_at, time.monotonic(), status))
                if status == 202:
                    self.planned[event_id] = [m["id"] for m in answer.json()["planned"]]
                    break
                time.sleep(0.1)  # Retry-After says 1 or 5 s; sooner, to time the gap closely
            n += 1

    def accepted_after(self, moment: float) -> int:
        return sum(1 for sent, _, status in self.answers if sent > moment and status == 202)


def sent_ids(twilio: FakeTwilio) -> Counter[str]:
    return Counter(r["form"]["StatusCallback"].rsplit("=", 1)[1] for r in twilio.requests)


def test_primary_killed_nothing_acknowledged_lost_nothing_sent_twice(tmp_path: Path) -> None:
    twilio = FakeTwilio()
    with topology(tmp_path / "servers", replicas=2) as (servers, sentinels):
        primary = servers[0]
        engine = EngineProcesses(tmp_path / "engine", primary.connection_url, rules=RULES)
        del engine.env["NOTIFIER_REDIS_URL"]
        engine.env |= twilio.settings() | {
            "NOTIFIER_REDIS_SENTINELS": sentinels.setting,
            "NOTIFIER_TWILIO_STATUS_CALLBACK_URL": "https://notifier.example/v1/callbacks/twilio",
            "NOTIFIER_RATE_LIMIT_SMS_PER_SECOND": "0",
            "NOTIFIER_RECIPIENT_CAP_MAX": "0",
            # a claim whose worker lost its lease in the failover comes back within seconds
            "NOTIFIER_CLAIM_LEASE_SECONDS": "10",
        }
        upstream = Upstream(engine.http)
        try:
            engine.start_api()
            engine.start_scheduler()
            engine.start_worker("worker-a")
            engine.start_worker("worker-b")
            upstream.thread.start()
            wait_for(lambda: len(upstream.planned) >= 20, 60, "20 events accepted")
            killed_at = time.monotonic()
            os.kill(primary.process.pid, signal.SIGKILL)  # type: ignore[union-attr]
            primary.process.wait()  # type: ignore[union-attr]
            wait_for(lambda: upstream.accepted_after(killed_at) >= 20, 90, "20 events after")
            first = min(at for sent, at, s in upstream.answers if sent > killed_at and s == 202)
            print(f"\nkill → first 202 to a request sent after it: {first - killed_at:.2f} s")
            upstream.stop.set()
            upstream.thread.join(30)
            statuses = Counter(s for _, _, s in upstream.answers)
            assert set(statuses) <= {202, 503}, statuses
            new_primary = wait_for(lambda: new_primary_of(sentinels, primary), 30, "a new primary")
            engine.redis_base_url = f"redis://127.0.0.1:{new_primary}"  # for engine.explain
            expect_each_sent_once(twilio, upstream, engine)

            old = EmbeddedValkey(primary.data_dir, primary.port)  # back, with its old data
            old.start()
            servers.append(old)
            wait_for(lambda: replica_of(old.port) == new_primary, 30, "the old primary to follow")
            before = dict(sent_ids(twilio))
            upstream.stop.clear()
            upstream.thread = threading.Thread(target=upstream.run, daemon=True)
            count = len(upstream.planned)
            upstream.thread.start()
            wait_for(lambda: len(upstream.planned) >= count + 10, 60, "10 more events")
            upstream.stop.set()
            upstream.thread.join(30)
            expect_each_sent_once(twilio, upstream, engine)
            assert {k: v for k, v in sent_ids(twilio).items() if k in before} == before
            assert all(p.poll() is None for p in engine.processes.values()), "none restarted"
        except BaseException:
            print(engine.logs(tail=None))  # short, and a failure's cause may be early in them
            raise
        finally:
            upstream.stop.set()
            engine.stop_all()
            twilio.close()


def new_primary_of(sentinels: Sentinels, old: EmbeddedValkey) -> int | None:
    found = {sentinels.primary(port) for port in sentinels.ports}
    return found.pop() if len(found) == 1 and None not in found and old.port not in found else None


def replica_of(port: int) -> int | None:
    with redis.Redis(port=port) as client:
        info = client.info("replication")
    up = info.get("role") == "slave" and info.get("master_link_status") == "up"
    return int(info["master_port"]) if up else None


def expect_each_sent_once(twilio: FakeTwilio, upstream: Upstream, engine: EngineProcesses) -> None:
    """Every message of every 202 went to Twilio exactly once, and nothing else did."""
    planned = {m for ids in upstream.planned.values() for m in ids}
    assert len(planned) == len(upstream.planned)  # one SMS per event

    def all_sent() -> bool:
        return planned <= set(sent_ids(twilio))

    try:
        wait_for(all_sent, 90, "every accepted event's SMS")
    except AssertionError:
        raise AssertionError(unsent(twilio, planned, engine)) from None
    time.sleep(1)  # a second send would come now, if any
    sent = sent_ids(twilio)
    assert {m: n for m, n in sent.items() if n != 1} == {}
    assert set(sent) == planned


def unsent(twilio: FakeTwilio, planned: set[str], engine: EngineProcesses) -> str:
    """What held the messages not sent in time: each one's status and last steps and the
    broker's queues at that moment, then when each was sent, if at all, in the next 150 s
    (longer than any lease: a message held by one is sent within them)."""
    missing = planned - set(sent_ids(twilio))
    held = engine.explain(missing)
    late_from = time.time()
    deadline = late_from + 150
    while time.time() < deadline and not missing <= set(sent_ids(twilio)):
        time.sleep(1)
    at = {r["form"]["StatusCallback"].rsplit("=", 1)[1]: r["at"] for r in twilio.requests}
    order = sorted(missing, key=lambda m: at.get(m, deadline))  # the never-sent last
    later = [f"{m} {at[m] - late_from:.1f} s" if m in at else f"{m} never" for m in order]
    return (
        f"{len(missing)} not sent within 90 s: {sorted(missing)}\n{held}\n"
        f"sent after those 90 s: {', '.join(later)}"
    )
