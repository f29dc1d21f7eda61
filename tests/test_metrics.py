"""Metrics scraped from real processes after real traffic, parsed with prometheus_client.

API, scheduler and a Dramatiq worker run as the operator runs them; 20 messages go out;
each process's /metrics must say so, with labels that never name a person or a message.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.builders import make_event
from tests.support.harness import EngineProcesses, wait_for

pytestmark = pytest.mark.e2e

RULES = """
rules:
  - id: news
    trigger: [procedure.status_changed]
    template: procedure_status
    channels: [sms]
    quiet_hours: "off"
"""


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample at ``url``: (name, sorted labels) → value."""
    text = httpx.get(url, timeout=5).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def engine(redis_base_url: str, tmp_path: Path) -> Iterator[EngineProcesses]:
    processes = EngineProcesses(tmp_path, redis_base_url, rules=RULES, engine_db=6)
    processes.env["NOTIFIER_RATE_LIMIT_SMS_PER_SECOND"] = "0"
    yield processes
    processes.stop_all()


def test_each_process_counts_what_it_did(engine: EngineProcesses) -> None:
    engine.start_api()
    engine.start_worker()
    engine.start("scheduler", "scheduler")
    ids, subjects, recipients = set(), set(), set()
    for n in range(20):
        event = make_event(
            id=f"m-{n}",
            type="procedure.status_changed",
            subject=f"procedure:P-{n}",
            recipient={"id": f"person-{n}", "contacts": {"phone": "+33612345678"}},
            data={"reference": f"P-{n}", "status_label": "transmise"},
        )
        answer = engine.post(event.model_dump(mode="json"))
        ids |= {p["id"] for p in answer.json()["planned"]}
        subjects.add(event.subject)
        recipients.add(event.recipient.id)
    refused = make_event(id="bad", type="procedure.status_changed", data={})
    assert engine.post(refused.model_dump(mode="json")).status_code == 422
    unknown = make_event(id="other", type="nobody.knows_this", subject="x:1")
    assert engine.post(unknown.model_dump(mode="json")).status_code == 202
    wait_for(lambda: len(engine.sent_for(ids)) == 20, 30, "20 messages sent")

    api = scrape(f"{engine.http.base_url}/metrics")
    accepted = {"client": "e2e", "type": "procedure.status_changed", "outcome": "accepted"}
    assert value(api, "notifier_events_total", **accepted) == 20
    assert value(api, "notifier_events_total", **{**accepted, "outcome": "refused"}) == 1
    assert value(api, "notifier_events_total", **{**accepted, "type": "other"}) == 1
    assert value(api, "notifier_messages_planned_total", rule="news") == 20
    assert (
        value(
            api,
            "notifier_config_info",
            kind="rules",
            version=rules_version(engine),
            reload_error="false",
        )
        == 1
    )
    assert value(api, "notifier_channel_stopped", channel="sms") == 0

    worker_url = f"http://127.0.0.1:{engine.metrics_ports['worker']}/metrics"
    sent = {"channel": "sms", "outcome": "sent"}
    try:
        wait_for(
            lambda: value(scrape(worker_url), "notifier_delivery_attempts_total", **sent) >= 20,
            10,
            "the worker's counters",
        )
    except AssertionError:
        print(httpx.get(worker_url).text[:3000])
        raise
    worker = scrape(worker_url)
    assert value(worker, "notifier_delivery_attempts_total", **sent) == 20
    assert value(worker, "notifier_firing_lateness_seconds_count") == 20
    assert value(worker, "notifier_provider_call_duration_seconds_count", channel="sms") == 20
    # Dramatiq counts its own messages: batches of claims, at least one for the twenty
    batches = {"queue_name": "deliveries", "actor_name": "deliver_batch"}
    assert 1 <= value(worker, "dramatiq_messages_total", **batches) <= 20

    scheduler = scrape(f"http://127.0.0.1:{engine.metrics_ports['scheduler']}/metrics")
    assert value(scheduler, "notifier_scheduler_enqueued_total") == 20
    assert value(scheduler, "notifier_schedule_overdue_messages") == 0
    assert value(scheduler, "notifier_redis_up") == 1
    assert value(scheduler, "notifier_scheduler_last_tick_timestamp_seconds") > 0

    # bounded labels: no series names a message, a subject or a person
    personal = ids | subjects | recipients | {"+33612345678"}
    for samples in (api, worker, scheduler):
        for _, labels in samples:
            assert not {v for _, v in labels} & personal, labels


def rules_version(engine: EngineProcesses) -> str:
    return str(engine.http.get("/v1/rules").json()["version"])
