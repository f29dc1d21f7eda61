"""POST /v1/events/batch: many events, each answered as the single endpoint would."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from notifier.api.events import PLANNING, BatchAnswer, EventAccepted
from notifier.store import Store
from notifier.store.apikeys import ApiKeys
from notifier.store.recipients import RecipientStore
from tests.support.builders import AUTH, bearer, make_event


def booked(n: int, **overrides: Any) -> dict[str, Any]:
    event = make_event(id=f"evt-{n}", subject=f"appointment:A-{n}", **overrides)
    return event.model_dump(mode="json")


def test_each_event_answered_on_its_own(client: TestClient, store: Store) -> None:
    bad_phone = booked(2)
    bad_phone["recipient"]["contacts"]["phone"] = "12"
    missing_field = booked(3)
    del missing_field["data"]["starts_at"]
    events = [booked(1), bad_phone, missing_field, {"id": "no-type"}, booked(5)]
    response = client.post("/v1/events/batch", json={"events": events}, headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["refused"]) == (2, 3)
    results = body["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    assert [r["status"] for r in results] == [202, 422, 422, 422, 202]
    assert results[0]["event_id"] == "evt-1" and len(results[0]["planned"]) == 2
    (phone_error,) = results[1]["detail"]
    assert phone_error["loc"] == ["body", "events", 1, "recipient", "contacts", "phone"]
    assert results[2]["detail"][0]["loc"] == ["body", "events", 2, "data", "starts_at"]
    assert {tuple(e["loc"][3:]) for e in results[3]["detail"]} >= {("type",), ("subject",)}
    assert store.pending_count() == 4  # two reminders for each accepted event, none other


def test_a_batch_is_idempotent_like_single_events(client: TestClient, store: Store) -> None:
    single = client.post("/v1/events", json=booked(1), headers=AUTH).json()
    events = [booked(1), booked(2), booked(2)]
    first = client.post("/v1/events/batch", json={"events": events}, headers=AUTH).json()
    assert [r["duplicate"] for r in first["results"]] == [True, False, True]
    assert first["results"][0]["planned"] == single["planned"]
    assert first["results"][2]["planned"] == first["results"][1]["planned"]
    again = client.post("/v1/events/batch", json={"events": events}, headers=AUTH).json()
    assert all(r["duplicate"] for r in again["results"])
    assert store.pending_count() == 4


def test_cancellation_in_the_same_batch(client: TestClient, store: Store) -> None:
    cancel = booked(9, type="appointment.cancelled") | {"subject": "appointment:A-1"}
    body = client.post(
        "/v1/events/batch", json={"events": [booked(1), cancel]}, headers=AUTH
    ).json()
    planned = {p["id"] for p in body["results"][0]["planned"]}
    assert set(body["results"][1]["cancelled"]) == planned
    assert store.pending_count() == 0


def test_event_types_a_client_may_not_post_are_403_each(client: TestClient, store: Store) -> None:
    key = ApiKeys(store.redis, {}).add("booking", ["appointment.*"])
    events = [booked(1), booked(2, type="procedure.status_changed")]
    body = client.post("/v1/events/batch", json={"events": events}, headers=bearer(key)).json()
    assert [r["status"] for r in body["results"]] == [202, 403]
    assert "may not post 'procedure.status_changed'" in body["results"][1]["detail"]


@pytest.mark.parametrize(("count", "code"), [(0, 422), (1001, 422)], ids=["empty", "over-1000"])
def test_batch_size_is_bounded(client: TestClient, count: int, code: int) -> None:
    events = [{"id": f"e{n}"} for n in range(count)]
    response = client.post("/v1/events/batch", json={"events": events}, headers=AUTH)
    assert response.status_code == code
    assert response.json()["detail"][0]["loc"] == ["body", "events"]


def test_a_refused_batch_names_the_limit_without_echoing_it(client: TestClient) -> None:
    """1 001 events (~260 KB, contacts included) once came back whole in the 422."""
    events = [booked(n) for n in range(1001)]
    response = client.post("/v1/events/batch", json={"events": events}, headers=AUTH)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "events"] and "1000" in error["msg"]
    assert "input" not in error
    assert len(response.content) < 1000
    assert "612345678" not in response.text and "jeanne" not in response.text


def test_an_event_refused_in_a_batch_is_not_echoed(client: TestClient) -> None:
    bad = booked(1)
    bad["recipient"]["contacts"]["email"] = "not-an-email jeanne"
    bad["recipient"]["contacts"]["phone"] = "+33612345678 pas un numéro"
    response = client.post("/v1/events/batch", json={"events": [bad]}, headers=AUTH)
    (result,) = response.json()["results"]
    assert result["status"] == 422 and len(result["detail"]) == 2
    assert all("input" not in e for e in result["detail"])
    assert "612345678" not in response.text and "jeanne" not in response.text


def test_a_thousand_events_fit_the_batch_body_limit(client: TestClient, store: Store) -> None:
    events = [booked(n) for n in range(1000)]
    response = client.post("/v1/events/batch", json={"events": events}, headers=AUTH)
    assert response.status_code == 200 and response.json()["accepted"] == 1000
    assert store.pending_count() == 2000


def test_batch_without_a_key_is_401(client: TestClient) -> None:
    response = client.post("/v1/events/batch", json={"events": [booked(1)]})
    assert response.status_code == 401


def test_answers_are_exactly_in_their_models_shape(client: TestClient) -> None:
    """The ingest routes write their answers themselves (not through FastAPI's validation of
    the response model): each must be what the model would have written, every field there
    (null when unset) and times in UTC with ``Z``, fresh or replayed, accepted or refused."""
    bad_phone = booked(2)
    bad_phone["recipient"]["contacts"]["phone"] = "12"
    missing_field = booked(3)
    del missing_field["data"]["starts_at"]
    answers: list[tuple[type[Any], Any]] = []
    for _ in range(2):  # the second time, replays
        single = client.post("/v1/events", json=booked(1), headers=AUTH)
        assert single.status_code == 202, single.text
        answers.append((EventAccepted, single.json()))
        events = [booked(4), bad_phone, missing_field, {"id": "no-type"}]
        batch = client.post("/v1/events/batch", json={"events": events}, headers=AUTH)
        assert batch.status_code == 200, batch.text
        answers.append((BatchAnswer, batch.json()))
    for model, body in answers:
        assert body == model.model_validate(body).model_dump(mode="json")
    assert answers[0][1]["planned"][0]["due_at"].endswith("Z")
    assert answers[3][1]["results"][0]["duplicate"] is True


def test_a_batch_is_counted_like_its_events_one_by_one(client: TestClient) -> None:
    """The metrics count a batch's events as the single endpoint counts each: by type and
    outcome, and the messages planned by rule."""
    refused = booked(3)
    del refused["data"]["starts_at"]
    events = [booked(1), booked(2), booked(1), refused]
    assert (
        client.post("/v1/events/batch", json={"events": events}, headers=AUTH).json()["accepted"]
        == 3
    )
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(client.get("/metrics").text)
        for sample in family.samples
    }

    def events_total(outcome: str) -> float:
        labels = {"client": "crm", "type": "appointment.booked", "outcome": outcome}
        return samples.get(("notifier_events_total", tuple(sorted(labels.items()))), 0.0)

    assert (events_total("accepted"), events_total("duplicate"), events_total("refused")) == (
        2,
        1,
        1,
    )
    planned = [v for (name, _), v in samples.items() if name == "notifier_messages_planned_total"]
    assert sum(planned) == 4  # two reminders for each of the two new events, not the replay


def test_a_batch_reads_referenced_recipients_without_holding_the_planning_lock(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches plan one at a time (PLANNING); a Redis read under that lock would make every
    other batch of the process wait on Redis too."""
    registered = booked(1)
    put = client.put(
        "/v1/recipients/citizen-1",
        json={**registered["recipient"], "id": "citizen-1"},
        headers=AUTH,
    )
    assert put.status_code in (200, 201, 204), put.text
    reads: list[bool] = []
    original = RecipientStore.get

    def get(self: RecipientStore, tenant: str, recipient_id: str) -> Any:
        reads.append(PLANNING.locked())
        return original(self, tenant, recipient_id)

    monkeypatch.setattr(RecipientStore, "get", get)
    reference = booked(2) | {"recipient": {"id": "citizen-1"}}
    unknown = booked(3) | {"recipient": {"id": "nobody"}}
    body = client.post("/v1/events/batch", json={"events": [reference, unknown]}, headers=AUTH)
    assert [r["status"] for r in body.json()["results"]] == [202, 422]
    assert reads == [False, False]
