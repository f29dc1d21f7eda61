"""The HTTP API in-process (FastAPI's TestClient) over a real Valkey server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from notifier.app import create_app
from notifier.rules.loader import rules_holder
from notifier.runtime.redis_server import free_port
from notifier.runtime.settings import Settings
from notifier.store import Store
from tests.support.builders import AUTH, NOW, REMINDER_RULES, make_event


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "reminders.yaml").write_text(REMINDER_RULES)
    return folder


def event_json(**overrides: Any) -> dict[str, Any]:
    return make_event(**overrides).model_dump(mode="json")


def test_post_event_answers_202_with_the_stored_plan(client: TestClient, store: Store) -> None:
    response = client.post("/v1/events", json=event_json(), headers=AUTH)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["duplicate"] is False and body["event_id"] == "evt-1"
    starts = NOW + timedelta(days=3)
    assert sorted((p["rule"], p["due_at"]) for p in body["planned"]) == [
        ("reminder-2h", (starts - timedelta(hours=2)).isoformat().replace("+00:00", "Z")),
        ("reminder-48h", (starts - timedelta(hours=48)).isoformat().replace("+00:00", "Z")),
    ]
    assert store.pending_count() == 2
    message = client.get(f"/v1/messages/{body['planned'][0]['id']}", headers=AUTH).json()
    assert message["status"] == "scheduled"
    assert message["history"][0]["status"] == "scheduled"


def test_same_event_twice_plans_once(client: TestClient, store: Store) -> None:
    first = client.post("/v1/events", json=event_json(), headers=AUTH).json()
    second = client.post("/v1/events", json=event_json(), headers=AUTH)
    assert second.status_code == 202
    assert second.json()["duplicate"] is True
    assert second.json()["planned"] == first["planned"]
    assert store.pending_count() == 2


def test_cancel_through_the_api(client: TestClient, store: Store) -> None:
    planned = client.post("/v1/events", json=event_json(), headers=AUTH).json()["planned"]
    cancel = event_json(id="evt-2", type="appointment.cancelled")
    body = client.post("/v1/events", json=cancel, headers=AUTH).json()
    assert sorted(body["cancelled"]) == sorted(p["id"] for p in planned)
    assert store.pending_count() == 0


def test_past_reminders_are_reported_as_skipped(client: TestClient) -> None:
    soon = event_json(
        data={**make_event().data, "starts_at": (NOW + timedelta(hours=3)).isoformat()}
    )
    body = client.post("/v1/events", json=soon, headers=AUTH).json()
    assert [p["rule"] for p in body["planned"]] == ["reminder-2h"]
    assert body["skipped"][0]["rule"] == "reminder-48h"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-key"}, {"Authorization": "Basic abc"}],
    ids=["no-header", "wrong-key", "basic-scheme"],
)
def test_401_without_a_valid_key(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post("/v1/events", json=event_json(), headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert client.get("/v1/messages/x", headers=headers).status_code == 401


def _error_locs(response: Any) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    return [error["loc"] for error in response.json()["detail"]]


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"type": "Appointment Booked"}, ["body", "type"]),
        ({"occurred_at": "yesterday"}, ["body", "occurred_at"]),
        ({"occurred_at": "2026-06-10T08:00:00"}, ["body", "occurred_at"]),
        ({"subject": "no colon"}, ["body", "subject"]),
        ({"surprise": 1}, ["body", "surprise"]),
        ({"id": ""}, ["body", "id"]),
    ],
    ids=[
        "type-not-a-name",
        "occurred-at-not-a-time",
        "occurred-at-without-offset",
        "subject-without-colon",
        "unknown-field",
        "empty-id",
    ],
)
def test_422_names_the_bad_field(
    client: TestClient, change: dict[str, Any], loc: list[Any]
) -> None:
    body = {**event_json(), **change}
    assert loc in _error_locs(client.post("/v1/events", json=body, headers=AUTH))


def test_422_for_bad_nested_fields(client: TestClient) -> None:
    body = event_json()
    body["recipient"]["timezone"] = "Mars/Olympus"
    body["recipient"]["contacts"]["email"] = "not-an-email"
    locs = _error_locs(client.post("/v1/events", json=body, headers=AUTH))
    assert ["body", "recipient", "timezone"] in locs
    assert ["body", "recipient", "contacts", "email"] in locs


def test_422_names_the_data_field_a_rule_needs(client: TestClient, store: Store) -> None:
    response = client.post("/v1/events", json=event_json(data={}), headers=AUTH)
    assert _error_locs(response) == [["body", "data", "starts_at"]]
    assert store.pending_count() == 0


@pytest.mark.parametrize(
    "starts_at",
    [
        pytest.param("9999-12-31T23:59:59+14:00", id="year-9999"),
        pytest.param("0001-01-01T00:00:00-14:00", id="year-1"),
    ],
)
def test_a_time_the_calendar_cannot_hold_is_a_422_naming_it(
    client: TestClient, store: Store, starts_at: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A valid ISO date-time at the calendar's ends: 48 h before year 1, or a record kept
    a week past year 9999, overflowed (a 500 and a traceback in the log)."""
    body = event_json(data={**make_event().data, "starts_at": starts_at})
    response = client.post("/v1/events", json=body, headers=AUTH)
    assert response.status_code == 422, response.text
    assert _error_locs(response) == [["body", "data", "starts_at"]]
    assert not [r for r in caplog.records if r.exc_info]
    assert store.pending_count() == 0


def test_unknown_message_is_404(client: TestClient) -> None:
    assert client.get("/v1/messages/AAAAAAAAAAAAAAAA", headers=AUTH).status_code == 404
    assert client.get("/v1/messages/nope", headers=AUTH).status_code == 422  # not an id


def test_healthz(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["redis"] == "ok"
    assert len(body["rules_version"]) == 12


def test_503_with_retry_after_when_redis_is_down(rules_dir: Path) -> None:
    dead = Store.from_url(f"redis://127.0.0.1:{free_port()}/0")
    settings = Settings(api_keys={"crm": "test-key-123"})
    app = create_app(settings, dead, rules_holder(rules_dir), clock=lambda: NOW)
    with TestClient(app) as client:
        response = client.post("/v1/events", json=event_json(), headers=AUTH)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert client.get("/healthz").status_code == 503


def test_api_refuses_an_invalid_number_naming_the_field(client: TestClient) -> None:
    body = event_json()
    body["recipient"]["contacts"]["phone"] = "06 12"
    response = client.post("/v1/events", json=body, headers=AUTH)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "recipient", "contacts", "phone"]
    assert "not a valid number" in error["msg"]


def test_body_over_the_limit_is_413(client: TestClient, store: Store) -> None:
    body = event_json()
    body["data"]["notes"] = "x" * 70_000
    response = client.post("/v1/events", json=body, headers=AUTH)
    assert response.status_code == 413
    assert store.pending_count() == 0


def test_chunked_body_over_the_limit_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"id": "x", "data": {"notes": "'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"}}'

    response = client.post(
        "/v1/events",
        content=chunks(),
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}, "levels deep"),
        ({"notes": "x" * 20_000}, "larger than 16384 bytes"),
    ],
    ids=["too-deep", "too-large"],
)
def test_oversized_data_is_422_naming_data(
    client: TestClient, data: dict[str, Any], message: str
) -> None:
    response = client.post("/v1/events", json=event_json() | {"data": data}, headers=AUTH)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "data"] and message in error["msg"]


def test_malformed_and_deeply_nested_json_are_4xx(client: TestClient) -> None:
    headers = {**AUTH, "Content-Type": "application/json"}
    response = client.post("/v1/events", content=b'{"id": ', headers=headers)
    assert response.status_code == 400  # not JSON at all; 422 is for JSON with wrong fields
    assert response.json()["detail"] == "the body is not valid JSON"
    deep = b'{"data": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    assert client.post("/v1/events", content=deep, headers=headers).status_code in (400, 422)
    not_an_object = client.post("/v1/events", content=b"[1, 2]", headers=headers)
    assert not_an_object.status_code == 422


@pytest.mark.parametrize("levels", [9, 350, 700], ids=["9", "350", "700"])
def test_data_nested_hundreds_deep_is_a_422_naming_data(
    client: TestClient, store: Store, levels: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Under 1 KB of JSON nested 350 deep once overflowed the depth check's recursion: a
    500 and a 110 KB traceback in the log."""
    prefix, suffix = '{"a": ' * levels, "}" * levels
    body = json.dumps(event_json() | {"data": "HERE"}).replace('"HERE"', prefix + "1" + suffix)
    headers = {**AUTH, "Content-Type": "application/json"}
    response = client.post("/v1/events", content=body, headers=headers)
    assert response.status_code == 422, response.text[:200]
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "data"] and "levels deep" in error["msg"]
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.exc_info]
    assert store.pending_count() == 0


def test_a_422_does_not_echo_what_was_sent(client: TestClient) -> None:
    """Pydantic's ``input`` would send back the contacts (and the rest) of the refused body."""
    body = event_json()
    body["recipient"]["contacts"]["email"] = "not-an-email jeanne"
    body["recipient"]["contacts"]["phone"] = "+33612345678 pas un numéro"
    body["recipient"]["timezone"] = "Mars/Olympus"
    response = client.post("/v1/events", json=body, headers=AUTH)
    assert response.status_code == 422
    assert len(response.json()["detail"]) == 3
    assert all("input" not in e for e in response.json()["detail"])
    assert "612345678" not in response.text and "jeanne" not in response.text
