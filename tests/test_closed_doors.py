"""Every door of the API process, tried with another tenant's key or another person's link.

One tenant (``owner``) has a registered citizen with a phone, an e-mail and a browser
subscription, pending reminders and a message sent. Another (``intruder``) holds keys with
every API scope, or too few, links signed for the same recipient id in its own tenant, and
its own support desk's console session (an ``ops`` key made with ``--tenant``). Each route
and page answers as for something that does not exist (404), or refuses a missing scope
(403; the console sends anyone without an ops session to its login page),
never shows a contact of the owner's citizen, and leaves everything of the owner as it was.

The routes come from the app itself, every one of them (the public ones too: the docs, the
health and metrics, the legal pages, the static files): a route added anywhere without a case
here fails :func:`test_every_route_has_a_case`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Mount

from notifier.links import PAGES, UNSUBSCRIBE, Grant, Links
from notifier.runtime.settings import Settings
from notifier.store import PREFIX, Store
from notifier.store.apikeys import ALL_SCOPES, ApiKeys, Scope
from notifier.web.console import COOKIE
from notifier.web.guard import csrf_token
from tests.support.builders import (
    CONTACT_KEY,
    NOW,
    REMINDER_RULES,
    api_client,
    bearer,
    deliver_due,
    make_event,
)

PUSH_ENDPOINT = "https://fcm.googleapis.com/fcm/send/alice-device-7f3a"
OWNED = {
    "id": "citizen-1",
    "contacts": {
        "phone": "+33611111111",
        "email": "alice.owner@example.org",
        "push": {"endpoint": PUSH_ENDPOINT, "keys": {"p256dh": "B" * 87, "auth": "A" * 22}},
    },
}
EVENTS_ONLY = {  # the owner's, known only from its events, with a pause kept from one
    "id": "citizen-3",
    "contacts": {"phone": "+33633333333"},
    "safety": {"paused": True},
}
HOUSEMATE = {"id": "citizen-2", "contacts": {"phone": "+33622222222"}}  # of the owner's tenant
LAPTOP = {  # a second browser of the owner's citizen, subscribed through the API
    "endpoint": "https://fcm.googleapis.com/fcm/send/alice-laptop-91c2",
    "keys": {"p256dh": "E" * 87, "auth": "F" * 22},
}
# the owner's citizen's contacts, in every form a page or an answer could write them
CONTACTS = (
    "+33611111111",
    "0611111111",
    "06 11 11 11 11",
    "611111111",
    "•• •• •• 11",
    "alice.owner",
    "alice-device-7f3a",
    "alice-laptop-91c2",
)


@dataclass
class World:
    client: TestClient
    store: Store
    keys: dict[str, str]
    pending: str  # a reminder of the owner's, scheduled
    sent: str  # a message of the owner's, sent
    links: Links = field(init=False)

    def __post_init__(self) -> None:
        self.links = Links(CONTACT_KEY, None, ttl=timedelta(days=30))

    def page(self, purpose: str = PAGES, housemate: bool = False, **extra: Any) -> str:
        """A link signed for citizen-1 of the intruder's tenant: not the owner's citizen; or,
        as ``housemate``, for another person of the owner's tenant (citizen-2)."""
        if housemate:
            return self.links.token(Grant(HOUSEMATE["id"], purpose, **extra, tenant="owner"))
        return self.links.token(Grant("citizen-1", purpose, **extra, tenant="intruder"))

    def desk(self) -> tuple[str, str]:
        """A console session of the intruder's own support desk (an ``ops`` key made with
        ``--tenant intruder``): its cookie, and the CSRF token of its forms."""
        key = {"key": self.keys["desk"]}
        login = self.client.post("/ops/login", data=key, follow_redirects=False)
        assert login.status_code == 303 and login.headers["location"] == "/ops/", login.text
        cookie = login.cookies[COOKIE]
        self.client.cookies.clear()  # each case sends its own
        overview = self.client.get("/ops/", headers={"Cookie": f"{COOKIE}={cookie}"}).text
        found = re.search(r'name="token" value="([0-9a-f]+)"', overview)
        assert found is not None, overview
        return cookie, found.group(1)

    def owned(self) -> dict[str, Any]:
        """Everything stored about the owner's citizen and their messages."""
        keys = [f"{PREFIX}recipient:owner|citizen-1", f"{PREFIX}recipient:owner|citizen-3"] + [
            f"{PREFIX}msg:{i}" for i in (self.pending, self.sent)
        ]
        return {key: self.store.redis.hgetall(key) for key in keys}


@pytest.fixture(scope="module")
def world(redis_base_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Built once for the module: no case may change it (each checks that it did not), and
    the intruder's tenant never registers anyone (the neighbour's does, in its own test)."""
    store = Store.from_url(f"{redis_base_url}/0")
    store.redis.flushdb()
    api_keys = ApiKeys(store.redis, {})
    keys = {
        "owner": api_keys.add("owner", [], scopes=ALL_SCOPES),
        "intruder": api_keys.add("intruder", [], scopes=ALL_SCOPES - {Scope.OPS}),
        "neighbour": api_keys.add("neighbour", [], scopes=ALL_SCOPES - {Scope.OPS}),
        "erase-only": api_keys.add("eraser", [], scopes={Scope.ERASE}, tenant="intruder"),
        "events-only": api_keys.add("poster", [], scopes={Scope.EVENTS}, tenant="intruder"),
        "desk": api_keys.add("intruder-desk", [], scopes={Scope.OPS}, tenant="intruder"),
    }
    with api_client(store, REMINDER_RULES, tmp_path_factory.mktemp("doors"), {}) as client:
        owner = bearer(keys["owner"])
        assert client.put("/v1/recipients/citizen-1", json=OWNED, headers=owner).is_success
        assert client.put("/v1/recipients/citizen-2", json=HOUSEMATE, headers=owner).is_success
        laptop = "/v1/recipients/citizen-1/push-subscriptions"
        assert client.post(laptop, json=LAPTOP, headers=owner).status_code == 201
        booked = make_event().model_dump(mode="json") | {"recipient": {"id": "citizen-1"}}
        pending = client.post("/v1/events", json=booked, headers=owner).json()["planned"][0]
        news = make_event(
            id="news",
            type="procedure.status_changed",
            subject="procedure:P-1",
            data={"reference": "P-1", "status_label": "transmise"},
        ).model_dump(mode="json") | {"recipient": {"id": "citizen-1"}}
        (sent,) = client.post("/v1/events", json=news, headers=owner).json()["planned"]
        assert deliver_due(store, NOW) == ["alice.owner@example.org"]
        paused = make_event(id="paused", subject="appointment:P-3", recipient=EVENTS_ONLY)
        answer = client.post("/v1/events", json=paused.model_dump(mode="json"), headers=owner)
        assert answer.status_code == 202, answer.text
        yield World(client, store, keys, pending["id"], sent["id"])
    store.redis.close()


Send = Callable[[World], Any]


@dataclass(frozen=True)
class Case:
    route: str  # "METHOD /path" as the app declares it
    send: Send
    status: int
    location: str | None = None  # where a redirect must lead

    def __str__(self) -> str:
        return self.route


def api(method: str, path: str, key: str = "intruder", **kwargs: Any) -> Send:
    def send(w: World) -> Any:
        url = path.format(pending=w.pending, sent=w.sent)
        return w.client.request(method, url, headers=bearer(w.keys[key]), **kwargs)

    return send


def citizen(
    method: str,
    path: str,
    purpose: str = PAGES,
    csrf: str = "",
    housemate: bool = False,
    **kwargs: Any,
) -> Send:
    """A page with the intruder's link (or the housemate's); a form with its CSRF token."""
    extra = {"category": "news", "channel": "email"} if purpose == UNSUBSCRIBE else {}

    def send(w: World) -> Any:
        token = w.page(purpose, housemate, **extra)
        valid = csrf_token(CONTACT_KEY, token)
        options = dict(kwargs)
        if csrf == "form":
            options["data"] = {**options.get("data", {}), "csrf": valid, "lang": "fr"}
        elif csrf == "header":
            options["headers"] = {"X-CSRF-Token": valid}
        return w.client.request(method, path.format(token=token, sent=w.sent), **options)

    return send


def console(method: str, path: str, data: dict[str, str] | None = None) -> Send:
    """The console with the intruder's API key (no ops scope): as a header, as a cookie, and
    where a form takes a key (``{key}``)."""

    def send(w: World) -> Any:
        key = w.keys["intruder"]
        headers = {**bearer(key), "Cookie": f"notifier_ops={key}"}
        url = path.format(pending=w.pending)
        form = {name: value.replace("{key}", key) for name, value in (data or {}).items()}
        return w.client.request(
            method, url, headers=headers, data=form or None, follow_redirects=False
        )

    return send


BY_REFERENCE = make_event(id="intruder-1").model_dump(mode="json") | {
    "recipient": {"id": "citizen-1"}
}
INTRUDER_PROFILE = {"id": "citizen-1", "contacts": {"email": "someone@intruder.example"}}
SUBSCRIPTION = {"endpoint": PUSH_ENDPOINT, "keys": {"p256dh": "C" * 87, "auth": "D" * 22}}
LOGIN = "/ops/login"
NEUTRAL = Settings.model_fields["quick_exit_url"].default


def public(path: str) -> Send:
    """A route open to anyone, holding no one's data (fetched with the intruder's key)."""
    return api("GET", path)


CASES = [
    # open to anyone: documentation, health, metrics, legal pages, files; no one's data
    Case("GET /openapi.json", public("/openapi.json"), 200),
    Case("GET /docs", public("/docs"), 200),
    Case("GET /healthz", public("/healthz"), 200),
    Case("GET /metrics", public("/metrics"), 200),
    Case("GET /accessibilite", public("/accessibilite"), 200),
    Case("GET /mentions-legales", public("/mentions-legales"), 200),
    Case("GET /donnees-personnelles", public("/donnees-personnelles"), 200),
    Case("GET /static/{path}", public("/static/pages.css"), 200),
    # the upstream API: another tenant's recipient and messages are not found
    Case("POST /v1/events", api("POST", "/v1/events", json=BY_REFERENCE), 422),
    Case(
        "POST /v1/events/batch",
        api("POST", "/v1/events/batch", key="erase-only", json={"events": [BY_REFERENCE]}),
        403,
    ),
    Case("GET /v1/recipients/{recipient_id}", api("GET", "/v1/recipients/citizen-1"), 404),
    Case("DELETE /v1/recipients/{recipient_id}", api("DELETE", "/v1/recipients/citizen-1"), 404),
    Case(
        "PUT /v1/recipients/{recipient_id}",
        api("PUT", "/v1/recipients/citizen-1", key="events-only", json=INTRUDER_PROFILE),
        403,
    ),
    Case(
        "POST /v1/recipients/{recipient_id}/push-subscriptions",
        api("POST", "/v1/recipients/citizen-1/push-subscriptions", json=SUBSCRIPTION),
        404,
    ),
    Case(
        "POST /v1/recipients/{recipient_id}/resume",
        api("POST", "/v1/recipients/citizen-1/resume", json={"send_missed": True}),
        404,
    ),
    Case(
        "POST /v1/recipients/{recipient_id}/code",
        api("POST", "/v1/recipients/citizen-1/code", json={"code": "432109"}),
        404,
    ),
    Case("GET /v1/messages/{message_id}", api("GET", "/v1/messages/{sent}"), 404),
    Case("GET /v1/rules", api("GET", "/v1/rules", key="erase-only"), 403),
    Case(
        "POST /v1/callbacks/twilio",
        api("POST", "/v1/callbacks/twilio?message_id={sent}", data={"MessageStatus": "failed"}),
        403,
    ),
    # the citizen's pages, with a link signed for the same id in the intruder's tenant
    Case("GET /me/sw.js", citizen("GET", "/me/sw.js"), 200),  # a public file, no one's data
    # the quick exit: no one's data, only a way out (and the end of this browser's session)
    Case("GET /me/exit", citizen("GET", "/me/exit", follow_redirects=False), 303, NEUTRAL),
    # the accessibility statement in neutral words: a public page, no one's data
    Case("GET /me/accessibilite", citizen("GET", "/me/accessibilite"), 200),
    Case("GET /me/{token}", citizen("GET", "/me/{token}"), 404),
    Case(
        "POST /me/{token}/preferences",
        citizen("POST", "/me/{token}/preferences", csrf="form", data={"choice": []}),
        404,
    ),
    Case("GET /me/{token}/needs", citizen("GET", "/me/{token}/needs"), 404),
    Case(
        "POST /me/{token}/needs",
        citizen("POST", "/me/{token}/needs", csrf="form", data={"need": "easy_read"}),
        404,
    ),
    Case("GET /me/{token}/device", citizen("GET", "/me/{token}/device"), 404),
    Case(
        "POST /me/{token}/push",
        citizen("POST", "/me/{token}/push", csrf="header", json=SUBSCRIPTION),
        404,
    ),
    Case(
        "POST /me/{token}/push/remove",
        citizen("POST", "/me/{token}/push/remove", csrf="header", json=SUBSCRIPTION),
        404,
    ),
    Case("GET /me/{token}/history", citizen("GET", "/me/{token}/history"), 404),
    Case(
        "GET /me/{token}/history/{message_id}",
        citizen("GET", "/me/{token}/history/{sent}"),
        404,
    ),
    Case("GET /me/{token}/safety", citizen("GET", "/me/{token}/safety"), 404),
    Case(
        "POST /me/{token}/safety",
        citizen("POST", "/me/{token}/safety", csrf="form", data={"paused": "on"}),
        404,
    ),
    Case(
        "POST /me/{token}/code",
        citizen("POST", "/me/{token}/code", csrf="form", data={"code": "123456"}),
        404,
    ),
    Case("GET /u/{token}", citizen("GET", "/u/{token}", purpose=UNSUBSCRIBE), 404),
    Case(
        "POST /u/{token}",
        citizen("POST", "/u/{token}", purpose=UNSUBSCRIBE, data={"List-Unsubscribe": "One-Click"}),
        404,
    ),
    # the console: without an ops session, only its login page
    Case("GET /ops/login", console("GET", LOGIN), 200),
    Case(
        "POST /ops/login",
        console("POST", LOGIN, data={"key": "{key}"}),
        303,
        f"{LOGIN}?failed=1",
    ),
    Case("POST /ops/logout", console("POST", "/ops/logout", data={"token": "x"}), 303, LOGIN),
    Case("GET /ops/", console("GET", "/ops/"), 303, LOGIN),
    Case("GET /ops/find", console("GET", "/ops/find?q=%2B33611111111"), 303, LOGIN),
    Case("GET /ops/messages/{message_id}", console("GET", "/ops/messages/{pending}"), 303, LOGIN),
    Case(
        "POST /ops/messages/{message_id}/{action}",
        console("POST", "/ops/messages/{pending}/cancel", data={"token": "x", "reason": "r"}),
        303,
        LOGIN,
    ),
    Case(
        "GET /ops/messages/{message_id}/person",
        console("GET", "/ops/messages/{pending}/person"),
        303,
        LOGIN,
    ),
    Case(
        "POST /ops/messages/{message_id}/person/safety",
        console(
            "POST",
            "/ops/messages/{pending}/person/safety",
            data={"token": "x", "reason": "r", "paused": "1"},
        ),
        303,
        LOGIN,
    ),
    Case(
        "POST /ops/messages/{message_id}/person/code",
        console(
            "POST",
            "/ops/messages/{pending}/person/code",
            data={"token": "x", "reason": "r", "code": "864213"},
        ),
        303,
        LOGIN,
    ),
    Case("GET /ops/preview", console("GET", "/ops/preview"), 303, LOGIN),
    Case(
        "POST /ops/preview",
        console("POST", "/ops/preview", data={"event": "{}", "token": "x"}),
        303,
        LOGIN,
    ),
]


def desk(method: str, path: str, data: dict[str, str] | None = None) -> Send:
    """The console in a session of the intruder's support desk, a form with its CSRF token."""

    def send(w: World) -> Any:
        cookie, token = w.desk()
        form = {"token": token, **(data or {})} if method == "POST" else None
        return w.client.request(
            method,
            path.format(pending=w.pending, sent=w.sent),
            headers={"Cookie": f"{COOKIE}={cookie}"},
            data=form,
            follow_redirects=False,
        )

    return send


REASON = {"reason": "asked by phone"}
# Every console route, with a session of an agent of another tenant: the owner's messages and
# person answer as unknown ids, Find finds nothing, the overview lists nothing of theirs.
DESK_CASES = [
    Case("GET /ops/login", desk("GET", LOGIN), 200),
    Case("POST /ops/login", desk("POST", LOGIN), 303, f"{LOGIN}?failed=1"),  # no key sent
    Case("POST /ops/logout", desk("POST", "/ops/logout"), 303, LOGIN),
    Case("GET /ops/", desk("GET", "/ops/"), 200),
    Case("GET /ops/find", desk("GET", "/ops/find?q=citizen-1"), 200),
    Case("GET /ops/messages/{message_id}", desk("GET", "/ops/messages/{pending}"), 404),
    Case(
        "POST /ops/messages/{message_id}/{action}",
        desk("POST", "/ops/messages/{pending}/cancel", REASON),
        404,
    ),
    Case("GET /ops/messages/{message_id}/person", desk("GET", "/ops/messages/{sent}/person"), 404),
    Case(
        "POST /ops/messages/{message_id}/person/safety",
        desk("POST", "/ops/messages/{pending}/person/safety", REASON | {"paused": "1"}),
        404,
    ),
    Case(
        "POST /ops/messages/{message_id}/person/code",
        desk("POST", "/ops/messages/{pending}/person/code", REASON | {"code": "864213"}),
        404,
    ),
    Case("GET /ops/preview", desk("GET", "/ops/preview"), 200),
    Case("POST /ops/preview", desk("POST", "/ops/preview", {"event": "{}"}), 200),
]


def served_routes(app: FastAPI) -> set[str]:
    """Every "METHOD /path" the app serves, wherever it is (a mounted folder of files as
    ``GET /static/{path}``)."""
    found = set()
    for route in app.routes:
        if isinstance(route, Mount):
            found.add(f"GET {route.path}/{{path}}")
        nested = getattr(route, "effective_route_contexts", None)  # an included router
        for each in nested() if nested else [route]:
            path = getattr(each, "path", "")
            for method in getattr(each, "methods", None) or ():
                if method != "HEAD":
                    found.add(f"{method} {path}")
    return found


def test_every_route_has_a_case(world: World) -> None:
    cases = [case.route for case in CASES]
    assert len(cases) == len(set(cases))
    assert served_routes(world.client.app) == set(cases)  # type: ignore[arg-type]


def test_every_console_route_has_a_case_for_another_tenants_desk(world: World) -> None:
    served = served_routes(world.client.app)  # type: ignore[arg-type]
    console = {route for route in served if route.split()[1].startswith("/ops/")}
    assert {case.route for case in DESK_CASES} == console


@pytest.mark.parametrize("case", DESK_CASES, ids=str)
def test_another_tenants_desk_finds_nothing(world: World, case: Case) -> None:
    """The hole 9b63d99 closed: an ``ops`` key made with ``--tenant`` found another tenant's
    protected person by phone, opened their Safe contact screen and read the audit list."""
    before = world.owned()
    answer = case.send(world)
    assert answer.status_code == case.status, answer.text
    if case.location is not None:
        assert answer.headers["location"] == case.location
    shown = answer.text.replace(answer.request.url.path, "")  # but what the agent asked for
    for asked in answer.request.url.params.values():
        shown = shown.replace(asked, "")
    assert not [c for c in CONTACTS if c in shown], shown
    assert world.pending not in shown and world.sent not in shown, shown
    assert world.owned() == before


@pytest.mark.parametrize(
    ("send", "status"),
    [
        pytest.param(
            citizen("GET", "/me/{token}/history/{sent}", housemate=True), 404, id="their-message"
        ),
        pytest.param(citizen("GET", "/me/{token}/history", housemate=True), 200, id="history"),
        pytest.param(
            citizen("POST", "/me/{token}/push/remove", csrf="header", json=LAPTOP, housemate=True),
            200,
            id="their-browser",
        ),
    ],
)
def test_another_persons_link_of_the_same_tenant_finds_nothing(
    world: World, send: Send, status: int
) -> None:
    """A real person's link, of the owner's tenant, naming what is the owner's citizen's: a
    message of theirs (404, as an unknown id), their browser's subscription (left alone)."""
    before = world.owned()
    answer = send(world)
    assert answer.status_code == status, answer.text
    shown = answer.text.replace(answer.request.url.path, "")  # but the address asked for
    assert not [c for c in CONTACTS if c in shown], shown
    assert world.sent not in shown and "transmise" not in shown, shown
    assert world.owned() == before


@pytest.mark.parametrize(
    "send",
    [
        pytest.param(api("GET", "/v1/recipients/citizen-3"), id="read"),
        pytest.param(api("POST", "/v1/recipients/citizen-3/resume", json={}), id="resume"),
        pytest.param(
            api("POST", "/v1/recipients/citizen-3/code", json={"code": "432109"}), id="code"
        ),
        pytest.param(api("DELETE", "/v1/recipients/citizen-3"), id="erase"),
    ],
)
def test_a_person_known_only_from_events_is_not_found_by_another_tenant(
    world: World, send: Send
) -> None:
    """Resume and code reach a person never registered (their pause came in an event): only
    for the tenant whose events they came in."""
    before = world.owned()
    assert before[f"{PREFIX}recipient:owner|citizen-3"], "the pause the event brought is kept"
    answer = send(world)
    assert answer.status_code == 404, answer.text
    assert "33633333333" not in answer.text
    assert world.owned() == before


@pytest.mark.parametrize("case", CASES, ids=str)
def test_another_tenants_key_or_link_finds_nothing(world: World, case: Case) -> None:
    before = world.owned()
    answer = case.send(world)
    assert answer.status_code == case.status, answer.text
    if case.location is not None:
        assert answer.headers["location"] == case.location
    assert not [c for c in CONTACTS if c in answer.text], answer.text
    assert world.owned() == before  # nothing of the owner's changed


def test_another_tenant_registers_its_own_recipient_under_the_same_id(world: World) -> None:
    """PUT is open to another tenant's key, on its own tenant: a recipient of its own."""
    before = world.owned()
    answer = api("PUT", "/v1/recipients/citizen-1", "neighbour", json=INTRUDER_PROFILE)(world)
    assert answer.status_code == 200
    assert answer.json()["contacts"]["email"] == "someone@intruder.example"
    assert not [c for c in CONTACTS if c in answer.text], answer.text
    assert world.owned() == before
    owner = world.client.get("/v1/recipients/citizen-1", headers=bearer(world.keys["owner"]))
    assert owner.json()["contacts"]["email"] == "alice.owner@example.org"
    # and its events by reference get its own recipient, never the owner's
    planned = api("POST", "/v1/events", "neighbour", json=BY_REFERENCE)(world).json()["planned"]
    record = world.store.get(planned[0]["id"])
    assert record is not None
    assert record.message.recipient.contacts.email == "someone@intruder.example"


def test_a_batch_refers_only_to_its_tenants_recipients(world: World) -> None:
    """Each event of a batch is answered as alone: a reference to an id the intruder never
    registered is unknown, whoever else registered it."""
    before = world.owned()
    answer = api("POST", "/v1/events/batch", json={"events": [BY_REFERENCE]})(world)
    assert answer.status_code == 200
    (result,) = answer.json()["results"]
    assert result["status"] == 422
    assert result["detail"][0]["loc"] == ["body", "events", 0, "recipient", "id"]
    assert not [c for c in CONTACTS if c in answer.text], answer.text
    assert world.owned() == before
