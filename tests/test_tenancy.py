"""One client, its own citizens: tenants scope subjects and reads, scopes gate what a key does.

Every refusal here is one a client could try against another's citizens.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from notifier.store import Store
from notifier.store.apikeys import ALL_SCOPES, ApiKeys, Scope
from tests.support.builders import (
    NOW,
    REMINDER_RULES,
    api_client,
    bearer,
    deliver_due,
    make_event,
    post_event,
)


@pytest.fixture
def client(store: Store, tmp_path: Path) -> Iterator[TestClient]:
    with api_client(store, REMINDER_RULES, tmp_path, {}) as test_client:
        yield test_client


@pytest.fixture
def keys(store: Store) -> ApiKeys:
    return ApiKeys(store.redis, {})


def test_another_client_cannot_cancel_on_the_same_subject(
    client: TestClient, store: Store, keys: ApiKeys
) -> None:
    booking, intruder = keys.add("booking", []), keys.add("intruder", [])
    planned = post_event(client, booking).json()["planned"]
    assert len(planned) == 2
    answer = post_event(client, intruder, id="evt-x", type="appointment.cancelled").json()
    assert answer["cancelled"] == []
    statuses = {
        client.get(f"/v1/messages/{p['id']}", headers=bearer(booking)).json()["status"]
        for p in planned
    }
    assert statuses == {"scheduled"}
    assert store.pending_count() == 2
    # its own cancellation still works
    assert len(
        post_event(client, booking, id="evt-2", type="appointment.cancelled").json()["cancelled"]
    )


def test_clients_of_one_tenant_share_subjects_and_reads(client: TestClient, keys: ApiKeys) -> None:
    booking = keys.add("booking", [], tenant="unit-75")
    desk = keys.add("front-desk", [], tenant="unit-75")
    planned = post_event(client, booking).json()["planned"]
    assert client.get(f"/v1/messages/{planned[0]['id']}", headers=bearer(desk)).status_code == 200
    cancelled = post_event(client, desk, id="evt-2", type="appointment.cancelled").json()[
        "cancelled"
    ]
    assert sorted(cancelled) == sorted(p["id"] for p in planned)


def test_a_reschedule_by_another_client_moves_nothing(client: TestClient, keys: ApiKeys) -> None:
    booking, intruder = keys.add("booking", []), keys.add("intruder", [])
    first = post_event(client, booking).json()["planned"]
    post_event(client, intruder, id="evt-x", type="appointment.rescheduled")
    assert all(
        client.get(f"/v1/messages/{p['id']}", headers=bearer(booking)).json()["status"]
        == "scheduled"
        for p in first
    )


def test_a_message_of_another_tenant_is_not_found(client: TestClient, keys: ApiKeys) -> None:
    """404, exactly as for an id that does not exist: a 403 would confirm it does."""
    booking, other = keys.add("booking", []), keys.add("other", [])
    message_id = post_event(client, booking).json()["planned"][0]["id"]
    mine = client.get(f"/v1/messages/{message_id}", headers=bearer(booking))
    theirs = client.get(f"/v1/messages/{message_id}", headers=bearer(other))
    missing = client.get("/v1/messages/AAAAAAAAAAAAAAAA", headers=bearer(other))
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
    admin = keys.add("admin", [], scopes=ALL_SCOPES, tenant="unit-9")
    assert client.put("/v1/recipients/citizen-9", json=RECIPIENT, headers=bearer(admin)).is_success
    key = keys.add("limited", [], scopes=scopes, tenant="unit-9")  # the recipient's tenant
    payload = make_event().model_dump(mode="json") if body == "event" else body
    response = client.request(method, path, json=payload, headers=bearer(key))
    if allowed:
        assert response.is_success, response.text
    else:
        assert response.status_code == 403, response.text
        missing = next(s for s in Scope if s.value in response.json()["detail"])
        assert missing not in scopes


def test_a_stored_key_without_scopes_may_only_post_events(client: TestClient, store: Store) -> None:
    """Keys created before scopes existed keep what they could do that was safe: events."""
    import json

    from notifier.store.apikeys import KEY, digest

    store.redis.hset(KEY, digest("old-key"), json.dumps({"client": "old", "events": []}))
    assert post_event(client, "old-key").status_code == 202
    assert client.delete("/v1/recipients/citizen-1", headers=bearer("old-key")).status_code == 403


ALICE = {"id": "citizen-1", "contacts": {"phone": "+33611111111", "email": "alice@example.org"}}
INTRUDER = {"id": "citizen-1", "contacts": {"phone": "+33622222222", "email": "spy@example.net"}}


def only_id(**fields: Any) -> dict[str, Any]:
    """An event naming its recipient by id only: a reference to a registered recipient."""
    return make_event(**fields).model_dump(mode="json") | {"recipient": {"id": "citizen-1"}}


def test_a_recipient_of_another_tenant_is_not_found(
    client: TestClient, store: Store, keys: ApiKeys
) -> None:
    """GET, push subscription and erasure of another tenant's recipient answer as for an id
    never seen; its PUT registers the intruder's own recipient and leaves the first alone."""
    booking = keys.add("booking", [], scopes=ALL_SCOPES)
    intruder = keys.add("intruder", [], scopes=ALL_SCOPES)
    assert client.put("/v1/recipients/citizen-1", json=ALICE, headers=bearer(booking)).is_success
    planned = client.post("/v1/events", json=only_id(), headers=bearer(booking)).json()["planned"]
    assert len(planned) == 2
    theirs = {
        "get": client.get("/v1/recipients/citizen-1", headers=bearer(intruder)),
        "push": client.post(
            "/v1/recipients/citizen-1/push-subscriptions", json=PUSH, headers=bearer(intruder)
        ),
        "erase": client.delete("/v1/recipients/citizen-1", headers=bearer(intruder)),
        "event": client.post("/v1/events", json=only_id(id="e-x"), headers=bearer(intruder)),
    }
    assert {name: r.status_code for name, r in theirs.items()} == {
        "get": 404,
        "push": 404,
        "erase": 404,
        "event": 422,
    }
    assert theirs["event"].json()["detail"][0]["loc"] == ["body", "recipient", "id"]
    assert all("alice" not in r.text and "611111111" not in r.text for r in theirs.values())
    # the intruder's PUT is its own recipient: the first tenant's is untouched
    own = client.put("/v1/recipients/citizen-1", json=INTRUDER, headers=bearer(intruder))
    assert own.status_code == 200 and own.json()["contacts"]["email"] == "spy@example.net"
    mine = client.get("/v1/recipients/citizen-1", headers=bearer(booking)).json()
    assert mine["contacts"] == {**ALICE["contacts"], "push": None}
    assert store.pending_count() == 2  # the erasure above removed nothing
    assert client.delete("/v1/recipients/citizen-1", headers=bearer(intruder)).json() == {
        "erased": "citizen-1",
        "messages_removed": 0,
    }
    assert client.get("/v1/recipients/citizen-1", headers=bearer(booking)).status_code == 200
    assert store.pending_count() == 2


def test_another_tenant_cannot_redirect_a_recipients_messages(
    client: TestClient, store: Store, keys: ApiKeys
) -> None:
    """The hole as found: the intruder registered the same id with its own address, and the
    first client's next message went there, even one sent with inline contacts."""
    booking = keys.add("booking", [], scopes=ALL_SCOPES)
    intruder = keys.add("intruder", [], scopes=ALL_SCOPES)
    client.put("/v1/recipients/citizen-1", json=ALICE, headers=bearer(booking))
    by_reference = client.post("/v1/events", json=only_id(), headers=bearer(booking))
    inline = make_event(id="e-2", subject="appointment:OTHER", recipient=ALICE)
    by_value = client.post(
        "/v1/events", json=inline.model_dump(mode="json"), headers=bearer(booking)
    )
    assert by_reference.status_code == by_value.status_code == 202
    assert client.put(
        "/v1/recipients/citizen-1", json=INTRUDER, headers=bearer(intruder)
    ).is_success
    sent_to = deliver_due(store, NOW + timedelta(days=2))
    assert sent_to == ["+33611111111", "+33611111111"]


def test_an_event_naming_another_tenants_recipient_stays_off_their_pages(
    client: TestClient, store: Store, keys: ApiKeys
) -> None:
    """The citizen's link names a tenant and a recipient: "What we sent you" lists that
    tenant's messages to them, never another tenant's sent under the same id."""
    from notifier.links import PAGES, Grant, Links
    from tests.support.builders import CONTACT_KEY

    booking, intruder = keys.add("booking", []), keys.add("intruder", [])
    for key, who, label in ((booking, ALICE, "transmise"), (intruder, INTRUDER, "INTRUS-42")):
        event = make_event(
            id="news",
            type="procedure.status_changed",
            subject="procedure:P-1",
            recipient=who,
            data={"reference": "P-1", "status_label": label},
        )
        assert client.post("/v1/events", json=event.model_dump(mode="json"), headers=bearer(key))
    assert len(deliver_due(store, NOW)) == 2
    links = Links(CONTACT_KEY, None, ttl=timedelta(days=30))
    pages = {
        tenant: "/me/" + links.token(Grant("citizen-1", PAGES, tenant=tenant))
        for tenant in ("booking", "intruder", "nobody")
    }
    alice = client.get(pages["booking"] + "/history")
    assert alice.status_code == 200 and "transmise" in alice.text
    assert "INTRUS-42" not in alice.text
    assert "INTRUS-42" in client.get(pages["intruder"] + "/history").text
    choices = client.get(pages["booking"])
    assert "06 •• •• •• 11" in choices.text and "•• •• 22" not in choices.text
    assert client.get(pages["nobody"] + "/history").status_code == 404


def test_another_tenants_messages_do_not_count_in_a_recipients_cap(
    client: TestClient, store: Store, keys: ApiKeys
) -> None:
    """The per-recipient cap counts one tenant's messages to its recipient: another tenant
    sending to the same id cannot use it up and silence the first one's messages."""
    for n, key in enumerate((keys.add("intruder", []), keys.add("booking", []))):
        event = make_event(
            id=f"news-{n}",
            type="procedure.status_changed",
            subject=f"procedure:P-{n}",
            recipient=(INTRUDER, ALICE)[n],
            data={"reference": f"P-{n}", "status_label": "transmise"},
        )
        assert client.post("/v1/events", json=event.model_dump(mode="json"), headers=bearer(key))
    sent_to = deliver_due(store, NOW, cap=1)
    assert sorted(sent_to) == ["alice@example.org", "spy@example.net"]
