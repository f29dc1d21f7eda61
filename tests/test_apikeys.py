"""API keys: hashed at rest, per-client event types, managed from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from notifier.cli import main
from notifier.store import Store
from notifier.store.apikeys import KEY, ApiKeys, digest
from tests.support.builders import (
    API_KEY,
    REMINDER_RULES,
    api_client,
    bearer,
    make_event,
    post_event,
)


def post(client: TestClient, key: str, event_type: str, event_id: str = "k1") -> int:
    data = {"reference": "R-1", "status_label": "transmise"}  # what procedure_status reads
    extra = {"data": data} if event_type.startswith("procedure.") else {}
    return post_event(client, key, id=event_id, type=event_type, **extra).status_code


def test_stored_key_limited_to_its_event_types(client: TestClient, store: Store) -> None:
    keys = ApiKeys(store.redis, {})
    key = keys.add("booking", ["appointment.*"])
    assert post(client, key, "appointment.booked") == 202
    assert post(client, key, "procedure.status_changed", "k2") == 403
    assert post(client, API_KEY, "procedure.status_changed", "k3") == 202
    assert keys.revoke("booking") == 1
    assert post(client, key, "appointment.booked", "k4") == 401


def test_only_the_digest_is_stored(store: Store) -> None:
    key = ApiKeys(store.redis, {}).add("crm", [])
    stored = store.redis.hgetall(KEY)
    assert list(stored) == [digest(key)]
    assert key not in str(stored)


def test_idempotency_is_per_client(client: TestClient, store: Store) -> None:
    other = ApiKeys(store.redis, {}).add("other", [])
    body = make_event(id="same-id").model_dump(mode="json")
    answers = [
        client.post("/v1/events", json=body, headers=bearer(key)).json()
        for key in (API_KEY, other, other)
    ]
    assert [a["duplicate"] for a in answers] == [False, False, True]
    assert answers[0]["planned"][0]["id"] != answers[1]["planned"][0]["id"]


def test_keys_command(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from notifier.runtime.settings import get_settings

    monkeypatch.setenv("NOTIFIER_REDIS_URL", redis_url)
    get_settings.cache_clear()
    try:
        assert main(["keys", "add", "crm", "--events", "appointment.*", "document.*"]) == 0
        key = capsys.readouterr().out.strip()
        assert key.startswith("nk_") and len(key) > 40
        assert main(["keys", "add", "desk", "--scopes", "events,erase", "--tenant", "unit-75"]) == 0
        assert main(["keys", "add", "bad", "--scopes", "events,everything"]) == 2
        assert "unknown scope everything" in capsys.readouterr().err
        assert main(["keys", "list"]) == 0
        assert capsys.readouterr().out == (
            "crm\ttenant=crm\tscopes=events\tappointment.* document.*\n"
            "desk\ttenant=unit-75\tscopes=erase,events\t(any event type)\n"
        )
        assert main(["keys", "revoke", "crm"]) == 0
        assert main(["keys", "revoke", "crm"]) == 1
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize(
    ("named", "console"),
    [
        pytest.param({}, False, id="not-named-no-ops"),
        pytest.param({"dev": "events,ops"}, True, id="named-ops"),
    ],
)
def test_an_environment_key_holds_ops_only_when_named(
    store: Store, tmp_path: Path, named: dict[str, str], console: bool
) -> None:
    """An upstream client's key from NOTIFIER_API_KEYS registers and erases recipients, but
    opens the support console (every tenant's messages) only when
    NOTIFIER_API_KEY_SCOPES gives it ``ops``."""
    keys = {"dev": "dev-key-12345"}
    with api_client(store, REMINDER_RULES, tmp_path, keys, api_key_scopes=named) as client:
        login = client.post("/ops/login", data={"key": "dev-key-12345"}, follow_redirects=False)
        assert login.headers["location"] == ("/ops/" if console else "/ops/login?failed=1")
        person = {"id": "c-9", "contacts": {"email": "c9@example.net"}}
        put = client.put(
            "/v1/recipients/c-9", json=person, headers={"Authorization": "Bearer dev-key-12345"}
        )
        assert put.status_code == (403 if named else 200)


def test_scopes_naming_an_unknown_key_or_scope_are_refused() -> None:
    from pydantic import ValidationError

    from notifier.runtime.settings import Settings

    secret = {"dev": "dev-key-12345"}
    for named, problem in (({"crm": "events"}, "no such key"), ({"dev": "all"}, "unknown scope")):
        with pytest.raises(ValidationError, match=problem):
            Settings(api_keys=secret, api_key_scopes=named)
