"""Push endpoints come from outside (a citizen's browser, an upstream system): only the push
services browsers use are accepted, at every door, with a 422 naming the field; nothing is
stored. The worker checks again before calling (tests/test_channel_stop.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from notifier.links import PAGES, Grant, Links
from notifier.runtime.settings import Settings
from notifier.store import Store
from notifier.store.recipients import RecipientStore
from notifier.urls import PUSH_SERVICES, push_endpoint_problem
from notifier.web.guard import csrf_token
from tests.support.builders import CONTACT_KEY, api_client, make_event
from tests.support.fake_push import LOOPBACK_PUSH

KEYS = {"Authorization": "Bearer door-key-0123"}
RULES = """
rules:
  - id: news
    trigger: [procedure.status_changed]
    template: procedure_status
    channels: [webpush, sms]
"""
HOSTILE = "http://127.0.0.1:6390/internal/admin"
GENUINE = "https://fcm.googleapis.com/fcm/send/dGVzdA:APA91b"
KEYS_OF_A_BROWSER = {"p256dh": "B" * 87, "auth": "A" * 22}


@pytest.mark.parametrize(
    ("endpoint", "allowed"),
    [
        pytest.param(GENUINE, True, id="chrome-fcm"),
        pytest.param("https://fcm.googleapis.com/wp/abc", True, id="chrome-fcm-wp"),
        pytest.param("https://updates.push.services.mozilla.com/wpush/v2/gAAA", True, id="firefox"),
        pytest.param("https://web.push.apple.com/QGx2", True, id="safari"),
        pytest.param("https://wns2-par02p.notify.windows.com/w/?token=BQY", True, id="edge-wns"),
        pytest.param("HTTPS://FCM.GOOGLEAPIS.COM/fcm/send/x", True, id="upper-case"),
        pytest.param("https://fcm.googleapis.com:443/fcm/send/x", True, id="default-port"),
        pytest.param(HOSTILE, False, id="http-loopback"),
        pytest.param("https://127.0.0.1/push", False, id="https-loopback"),
        pytest.param("https://169.254.169.254/latest/meta-data", False, id="cloud-metadata"),
        pytest.param("https://push.example/abc", False, id="unknown-host"),
        pytest.param("http://fcm.googleapis.com/fcm/send/x", False, id="plain-http"),
        pytest.param("https://fcm.googleapis.com.evil.example/x", False, id="lookalike-prefix"),
        pytest.param("https://evilnotify.windows.com/w", False, id="lookalike-suffix"),
        pytest.param("https://notify.windows.com/w", False, id="wildcard-needs-a-subdomain"),
        pytest.param("https://fcm.googleapis.com@evil.example/x", False, id="user-info"),
        pytest.param("https://fcm.googleapis.com\\@evil.example/x", False, id="backslash"),
        pytest.param("https://fcm.googleapis.com:8443/x", False, id="other-port"),
        pytest.param(" https://fcm.googleapis.com/x", False, id="leading-space"),
        pytest.param("https://fcm.googleapis.com:x/", False, id="bad-port"),
        pytest.param("ftp://fcm.googleapis.com/x", False, id="other-scheme"),
    ],
)
def test_only_the_browsers_push_services_by_default(endpoint: str, allowed: bool) -> None:
    assert (push_endpoint_problem(endpoint, Settings().push_allowed_hosts) is None) is allowed


def test_a_loopback_push_service_only_when_named() -> None:
    assert push_endpoint_problem(HOSTILE, [*PUSH_SERVICES, *LOOPBACK_PUSH]) is None
    assert push_endpoint_problem("https://127.0.0.1/x", LOOPBACK_PUSH) is not None
    assert push_endpoint_problem("http://10.0.0.1/x", ["http://10.0.0.1"]) is not None


def test_the_setting_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not any(entry.startswith("http://") for entry in Settings().push_allowed_hosts)
    monkeypatch.setenv("NOTIFIER_PUSH_ALLOWED_HOSTS", '["push.example.gouv.fr", "*.example.org"]')
    assert Settings().push_allowed_hosts == ["push.example.gouv.fr", "*.example.org"]
    monkeypatch.setenv("NOTIFIER_PUSH_ALLOWED_HOSTS", '["http://10.0.0.1"]')
    with pytest.raises(ValidationError, match="only for a loopback host"):
        Settings()
    monkeypatch.setenv("NOTIFIER_PUSH_ALLOWED_HOSTS", '["https://push.example"]')
    with pytest.raises(ValidationError, match="a host name"):
        Settings()


@pytest.fixture
def api(store: Store, tmp_path: Path) -> Iterator[TestClient]:
    """The API and the pages with the default (production) push services."""
    with api_client(store, RULES, tmp_path, {"t": "door-key-0123"}) as client:
        yield client


def subscription(endpoint: str) -> dict[str, Any]:
    return {"endpoint": endpoint, "keys": KEYS_OF_A_BROWSER}


def refused(answer: Any, *loc: str | int) -> None:
    assert answer.status_code == 422, answer.text
    (error,) = answer.json()["detail"]
    assert error["loc"] == list(loc) and "push endpoint" in error["msg"]


def registered(store: Store) -> RecipientStore:
    return RecipientStore(store.redis, contact_key=CONTACT_KEY)


def test_the_api_refuses_an_endpoint_off_the_push_services(api: TestClient, store: Store) -> None:
    citizen = {"id": "c-1", "contacts": {"phone": "+33612345678"}}
    hostile = citizen | {"contacts": {"push": subscription(HOSTILE)}}
    put = api.put("/v1/recipients/c-1", json=hostile, headers=KEYS)
    refused(put, "body", "contacts", "push", "endpoint")
    assert registered(store).get("t", "c-1") is None
    assert api.put("/v1/recipients/c-1", json=citizen, headers=KEYS).status_code == 200
    added = api.post(
        "/v1/recipients/c-1/push-subscriptions", json=subscription(HOSTILE), headers=KEYS
    )
    refused(added, "body", "endpoint")
    assert not any(f.startswith("push:") for f in registered(store).fields("t", "c-1"))
    ok = api.post("/v1/recipients/c-1/push-subscriptions", json=subscription(GENUINE), headers=KEYS)
    assert ok.status_code == 201, ok.text


def test_an_event_with_such_an_endpoint_is_refused(api: TestClient, store: Store) -> None:
    contacts = {"phone": "+33612345678", "push": subscription(HOSTILE)}
    event = make_event(
        type="procedure.status_changed",
        subject="procedure:P-1",
        recipient={"id": "c-2", "contacts": contacts},
        data={"reference": "P-1", "status_label": "transmise"},
    ).model_dump(mode="json")
    refused(api.post("/v1/events", json=event, headers=KEYS), *LOC)
    batch = api.post("/v1/events/batch", json={"events": [event]}, headers=KEYS).json()
    assert batch["accepted"] == 0
    ((error,),) = [item["detail"] for item in batch["results"]]
    assert error["loc"] == ["body", "events", 0, *LOC[1:]]
    assert store.redis.zcard("notifier:due") == 0
    event["recipient"]["contacts"]["push"] = subscription(GENUINE)
    assert api.post("/v1/events", json=event, headers=KEYS).status_code == 202


LOC = ("body", "recipient", "contacts", "push", "endpoint")


def test_the_citizen_page_refuses_it_too(api: TestClient, store: Store) -> None:
    """``POST /me/<token>/push``: the worker would post to any address a browser gave."""
    citizen = {"id": "c-3", "contacts": {"phone": "+33612345678"}}
    assert api.put("/v1/recipients/c-3", json=citizen, headers=KEYS).status_code == 200
    token = Links(CONTACT_KEY, None, ttl=timedelta(days=30)).token(Grant("c-3", PAGES, tenant="t"))
    csrf = {"X-CSRF-Token": csrf_token(CONTACT_KEY, token)}
    answer = api.post(f"/me/{token}/push", json=subscription(HOSTILE), headers=csrf)
    refused(answer, "body", "endpoint")
    assert not any(f.startswith("push:") for f in registered(store).fields("t", "c-3"))
    assert store.redis.zcard("notifier:due") == 0, "no test notification planned"
    genuine = api.post(f"/me/{token}/push", json=subscription(GENUINE), headers=csrf)
    assert genuine.status_code == 201, genuine.text
