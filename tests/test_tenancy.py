"""One client, its own citizens: tenants scope subjects and reads, scopes gate what a key does.

Every refusal here is one a client could try against another's citizens.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from notifier.apikeys import ALL_SCOPES, ApiKeys, Scope
from notifier.store import Store
from tests.conftest import REMINDER_RULES, api_client, make_event


@pytest.fixture
def client(store: Store, tmp_path: Path) -> Iterator[TestClient]:
    with api_client(store, REMINDER_RULES, tmp_path, {}) as test_client:
        yield test_client


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def post(client: TestClient, key: str, **fields: Any) -> Any:
    body = make_event(**fields).model_dump(mode="json")
    return client.post("/v1/events", json=body, headers=auth(key))


@pytest.fixture
def keys(store: Store) -> ApiKeys:
    return ApiKeys(store.redis, {})


def test_another_client_cannot_cancel_on_the_same_subject(
    client: TestClient, store: Store, keys: ApiKeys
) -> None:
    booking, intruder = keys.add("booking", []), keys.add("intruder", [])
    planned = post(client, booking).json()["planned"]
    assert len(planned) == 2
    answer = post(client, intruder, id="evt-x", type="appointment.cancelled").json()
    assert answer["cancelled"] == []
    statuses = {
        client.get(f"/v1/messages/{p['id']}", headers=auth(booking)).json()["status"]
        for p in planned
    }
    assert statuses == {"scheduled"}
    assert store.pending_count() == 2
    # its own cancellation still works
    assert len(post(client, booking, id="evt-2", type="appointment.cancelled").json()["cancelled"])


def test_clients_of_one_tenant_share_subjects_and_reads(client: TestClient, keys: ApiKeys) -> None:
    booking = keys.add("booking", [], tenant="unit-75")
    desk = keys.add("front-desk", [], tenant="unit-75")
    planned = post(client, booking).json()["planned"]
    assert client.get(f"/v1/messages/{planned[0]['id']}", headers=auth(desk)).status_code == 200
    cancelled = post(client, desk, id="evt-2", type="appointment.cancelled").json()["cancelled"]
    assert sorted(cancelled) == sorted(p["id"] for p in planned)


def test_a_reschedule_by_another_client_moves_nothing(client: TestClient, keys: ApiKeys) -> None:
    booking, intruder = keys.add("booking", []), keys.add("intruder", [])
    first = post(client, booking).json()["planned"]
    post(client, intruder, id="evt-x", type="appointment.rescheduled")
    assert all(
        client.get(f"/v1/messages/{p['id']}", headers=auth(booking)).json()["status"] == "scheduled"
        for p in first
    )


def test_a_message_of_another_tenant_is_not_found(client: TestClient, keys: ApiKeys) -> None:
    """404, exactly as for an id that does not exist: a 403 would confirm it does."""
    booking, other = keys.add("booking", []), keys.add("other", [])
    message_id = post(client, booking).json()["planned"][0]["id"]
    mine = client.get(f"/v1/messages/{message_id}", headers=auth(booking))
    theirs = client.get(f"/v1/messages/{message_id}", headers=auth(other))
    missing = client.get("/v1/messages/AAAAAAAAAAAAAAAA", headers=auth(other))
    assert mine.status_code == 200
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["detail"].replace(message_id, "X") == missing.json()["detail"].replace(
        "AAAAAAAAAAAAAAAA", "X"
    )


RECIPIENT = {"id": "citizen-9", "contacts": {"email": "paul@example.org"}}
PUSH = {
    "endpoint": "https://fcm.googleapis.com/fcm/send/abc",
    "keys": {"p256dh": "B" * 20, "auth": "A" * 10},
}


@pytest.mark.parametrize(
    ("scopes", "method", "path", "body", "allowed"),
    [
        ({Scope.EVENTS}, "PUT", "/v1/recipients/citizen-9", RECIPIENT, False),
        ({Scope.EVENTS}, "GET", "/v1/recipients/citizen-9", None, False),
        ({Scope.EVENTS}, "POST", "/v1/recipients/citizen-9/push-subscriptions", PUSH, False),
        ({Scope.EVENTS}, "DELETE", "/v1/recipients/citizen-9", None, False),
        ({Scope.RECIPIENTS}, "PUT", "/v1/recipients/citizen-9", RECIPIENT, True),
        ({Scope.RECIPIENTS}, "GET", "/v1/recipients/citizen-9", None, True),
        ({Scope.RECIPIENTS}, "POST", "/v1/recipients/citizen-9/push-subscriptions", PUSH, True),
        ({Scope.RECIPIENTS}, "DELETE", "/v1/recipients/citizen-9", None, False),
        ({Scope.ERASE}, "DELETE", "/v1/recipients/citizen-9", None, True),
        ({Scope.ERASE}, "PUT", "/v1/recipients/citizen-9", RECIPIENT, False),
        ({Scope.RECIPIENTS}, "POST", "/v1/events", "event", False),
        ({Scope.ERASE}, "GET", "/v1/rules", None, False),
        ({Scope.EVENTS}, "GET", "/v1/rules", None, True),
        (ALL_SCOPES, "DELETE", "/v1/recipients/citizen-9", None, True),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_each_route_needs_its_scope(
    client: TestClient,
    keys: ApiKeys,
    scopes: set[Scope],
    method: str,
    path: str,
    body: Any,
    allowed: bool,
) -> None:
    admin = keys.add("admin", [], scopes=ALL_SCOPES)
    assert client.put("/v1/recipients/citizen-9", json=RECIPIENT, headers=auth(admin)).is_success
    key = keys.add("limited", [], scopes=scopes)
    payload = make_event().model_dump(mode="json") if body == "event" else body
    response = client.request(method, path, json=payload, headers=auth(key))
    if allowed:
        assert response.is_success, response.text
    else:
        assert response.status_code == 403, response.text
        missing = next(s for s in Scope if s.value in response.json()["detail"])
        assert missing not in scopes


def test_a_stored_key_without_scopes_may_only_post_events(client: TestClient, store: Store) -> None:
    """Keys created before scopes existed keep what they could do that was safe: events."""
    import json

    from notifier.apikeys import KEY, digest

    store.redis.hset(KEY, digest("old-key"), json.dumps({"client": "old", "events": []}))
    assert post(client, "old-key").status_code == 202
    assert client.delete("/v1/recipients/citizen-1", headers=auth("old-key")).status_code == 403
