"""Faults, on real processes and a real server: Redis goes away and comes back.

A dedicated Valkey server (append-only file) is stopped for 30 s with reminders pending,
one due during the outage, and restarted from its files. Meanwhile the API answers 503 with
Retry-After (never a 500, never half a plan); afterwards everything resumes by itself and
every accepted reminder is delivered exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from notifier.redis_server import EmbeddedValkey
from tests.conftest import free_port, make_event
from tests.harness import EngineProcesses, wait_for

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


def booked(event_id: str, starts_in: float) -> dict[str, Any]:
    starts_at = datetime.now(UTC) + timedelta(seconds=starts_in)
    event = make_event(
        id=event_id,
        subject=f"appointment:{event_id}",
        data={"starts_at": starts_at.isoformat(), "unit": "Brigade", "address": "1 rue X"},
    )
    return event.model_dump(mode="json")


def test_redis_outage_503_then_everything_resumes(server: EmbeddedValkey, tmp_path: Path) -> None:
    engine = EngineProcesses(tmp_path / "engine", server.connection_url, rules=RULES)
    try:
        engine.start_worker()
        engine.start_api()
        engine.start("scheduler", "scheduler")
        before = engine.post(booked("before-outage", starts_in=5 + 3))  # due in 3 s
        during = engine.post(booked("due-in-outage", starts_in=5 + 12))  # due mid-outage
        later = engine.post(booked("after-outage", starts_in=5 + OUTAGE_SECONDS + 20))
        planned = [r.json()["planned"][0]["id"] for r in (before, during, later)]
        wait_for(lambda: engine.sent_for({planned[0]}), 15, "the first reminder")

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
        server.process = restarted.process  # the fixture stops whichever runs
        wait_for(lambda: engine.http.get("/healthz").status_code == 200, 20, "the API to recover")
        again = engine.post(booked("after-restart", starts_in=3600))
        assert again.status_code == 202
        assert not again.json()["duplicate"]
        assert engine.post(booked("while-down", starts_in=3600)).json()["duplicate"] is False

        # the reminder due during the outage, and the later one, each arrive exactly once
        wait_for(lambda: engine.sent_for({planned[1]}), 60, "the reminder due in the outage")
        wait_for(lambda: engine.sent_for({planned[2]}), 60, "the reminder due after it")
        time.sleep(1)
        sent = [m["id"] for m in engine.sent_for(set(planned))]
        assert sorted(sent) == sorted(planned)
    except AssertionError:
        print(engine.logs())
        raise
    finally:
        engine.stop_all()
