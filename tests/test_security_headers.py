"""Security headers on every answer (pages, console, static files, API), and every page still
working under its Content-Security-Policy in Debian's chromium (tests/browser.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from notifier.links import PAGES, UNSUBSCRIBE, Grant
from notifier.store import Store
from notifier.store.apikeys import ApiKeys, Scope
from tests.support.builders import (
    EXAMPLES,
    KEY,
    REMINDER_RULES,
    Site,
    api_client,
    bearer,
    deliver_next,
    make_event,
    serve_site,
)

AUTH = bearer(KEY)
HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
}
CSP_RECORDER = """
window.__refused = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__refused.push(e.violatedDirective + " " + e.blockedURI));
"""


@pytest.fixture
def site(store: Store) -> Iterator[Site]:
    with serve_site(store) as site:
        site.post(id="booked")
        yield site


def _event() -> dict[str, Any]:
    return make_event(id="evt-h").model_dump(mode="json")


# (method, path, what is sent, expected status); {pages} and {unsubscribe} are link tokens
ANSWERS = [
    pytest.param("GET", "/me/{pages}", None, 200, id="page"),
    pytest.param("GET", "/me/{pages}/device", None, 200, id="page-device"),
    pytest.param("GET", "/u/{unsubscribe}", None, 200, id="unsubscribe-page"),
    pytest.param("GET", "/me/not-a-token", None, 404, id="error-page"),
    pytest.param("GET", "/ops/login", None, 200, id="console-login"),
    pytest.param("GET", "/ops/", None, 303, id="console-redirect"),
    pytest.param("GET", "/static/pages.css", None, 200, id="static-css"),
    pytest.param("GET", "/static/push.js", None, 200, id="static-js"),
    pytest.param("GET", "/me/sw.js", None, 200, id="service-worker"),
    pytest.param("POST", "/v1/events", "event", 202, id="api-202"),
    pytest.param("POST", "/v1/events", "no-key", 401, id="api-401"),
    pytest.param("POST", "/v1/events", "empty", 422, id="api-422"),
    pytest.param("POST", "/v1/events", "huge", 413, id="api-413"),
    pytest.param("GET", "/v1/messages/AAAAAAAAAAAAAAAA", None, 404, id="api-404"),
    pytest.param("OPTIONS", "/v1/events", None, 204, id="api-options"),
    pytest.param("GET", "/healthz", None, 200, id="healthz"),
    pytest.param("GET", "/metrics", None, 200, id="metrics"),
    pytest.param("GET", "/openapi.json", None, 200, id="openapi"),
    pytest.param("GET", "/docs", None, 200, id="api-docs"),
    pytest.param("GET", "/static/swagger-ui/swagger-ui-bundle.js", None, 200, id="docs-script"),
    pytest.param("GET", "/static/no-such-file.css", None, 404, id="static-404"),
    pytest.param("GET", "/no-such-route", None, 404, id="route-404"),
    pytest.param("DELETE", "/v1/events", None, 405, id="api-405"),
    pytest.param("GET", "/accessibilite", None, 200, id="legal-page"),
]


@pytest.mark.parametrize(("method", "path", "sent", "status"), ANSWERS)
def test_every_answer_carries_the_security_headers(
    site: Site, method: str, path: str, sent: str | None, status: int
) -> None:
    tokens = {
        "pages": site.links.token(Grant("citizen-1", PAGES, tenant="crm")),
        "unsubscribe": site.links.token(
            Grant("citizen-1", UNSUBSCRIBE, "procedure_news", "email", tenant="crm")
        ),
    }
    body = {
        None: None,
        "event": _event(),
        "no-key": _event(),
        "empty": {},
        "huge": {"data": "x" * 100_000},
    }[sent]
    headers = {} if sent == "no-key" else AUTH
    answer = httpx.request(method, site.url + path.format(**tokens), json=body, headers=headers)
    assert answer.status_code == status, answer.text[:200]
    for name, value in HEADERS.items():
        assert answer.headers[name] == value, name
    policy = dict(
        d.strip().split(" ", 1) for d in answer.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'" and policy["base-uri"] == "'none'"
    assert "unsafe-inline" not in answer.headers["content-security-policy"]


def test_too_many_requests_says_when_to_come_back(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("notifier.web.guard.REQUESTS_PER_MINUTE", 2)
    link = site.pages(path="/needs")
    with httpx.Client() as client:
        answers = [client.get(link) for _ in range(4)]
    refused = [a for a in answers if a.status_code == 429]
    assert refused, [a.status_code for a in answers]
    assert all(1 <= int(a.headers["retry-after"]) <= 60 for a in refused)
    assert refused[0].headers["x-frame-options"] == "DENY"


@pytest.fixture
def page(page: Page) -> Page:
    """The shared page, recording what the content security policy refuses."""
    page.context.add_init_script(CSP_RECORDER)
    return page


def _refused(page: Page) -> list[str]:
    return list(page.evaluate("window.__refused"))


def test_the_citizen_pages_work_under_their_policy(site: Site, page: Page, tmp_path: Path) -> None:
    deliver_next(site, tmp_path)  # something in "What we sent you"
    for path in ("", "/needs", "/history"):
        page.goto(site.pages(path=path))
        assert _refused(page) == [], path
    assert (
        page.locator(".notifier-pre-line").first.evaluate("e => getComputedStyle(e).whiteSpace")
        == "pre-line"
    )  # the pages' own style sheet applies
    page.goto(site.pages(path="/device"))
    page.locator("#push-on").wait_for(state="visible")  # push.js ran and showed its button
    assert page.locator("#push-off").evaluate("e => getComputedStyle(e).display") == "none"
    assert _refused(page) == []
    token = site.links.token(
        Grant("citizen-1", UNSUBSCRIBE, "procedure_news", "email", tenant="crm")
    )
    page.goto(f"{site.url}/u/{token}")
    page.get_by_role("button", name="Confirmer").click()  # a form posted under form-action
    page.get_by_text("C'est fait").wait_for()
    page.goto(f"{site.url}/me/not-a-token")
    assert _refused(page) == []


def test_the_console_works_under_its_policy(site: Site, page: Page) -> None:
    agent = ApiKeys(site.store.redis, {}).add("agent-1", [], scopes={Scope.OPS})
    page.goto(f"{site.url}/ops/login")
    page.get_by_label("Votre clé d'agent").fill(agent)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/ops/")
    assert _refused(page) == []
    page.goto(f"{site.url}/ops/find?q=booked")
    assert _refused(page) == []
    page.goto(f"{site.url}/ops/preview")
    event = json.loads((EXAMPLES / "events" / "appointment-booked.json").read_text())
    page.get_by_label("Événement (JSON)").fill(json.dumps(event))
    page.get_by_role("button", name="Prévisualiser").click()
    assert page.locator("pre").evaluate("e => getComputedStyle(e).whiteSpace") == "pre-wrap"
    assert _refused(page) == []


NEUTRAL = "espace-personnel.example"
NAMED = "notifications.gendarmerie.example"


@pytest.mark.parametrize(
    ("host", "path", "neutral_404"),
    [
        pytest.param(NEUTRAL, "/docs", True, id="neutral-host-no-api-docs"),
        pytest.param(NEUTRAL, "/ops/login", True, id="neutral-host-no-console"),
        pytest.param(NEUTRAL, "/accessibilite", True, id="neutral-host-no-legal-page"),
        pytest.param(NEUTRAL.upper(), "/healthz", True, id="neutral-host-any-case"),
        pytest.param(f"{NEUTRAL}.", "/ops/login", True, id="neutral-host-trailing-dot"),
        pytest.param(f"{NEUTRAL}:443", "/docs", True, id="neutral-host-default-port"),
        pytest.param(f"{NEUTRAL}.:8443", "/docs", True, id="neutral-host-another-port"),
        pytest.param(f"{NAMED}.", "/docs", False, id="public-host-trailing-dot"),
        pytest.param(NEUTRAL, "/static/exit.css", False, id="neutral-host-page-files"),
        pytest.param(NEUTRAL, "/me/not-a-link", False, id="neutral-host-citizen-pages"),
        pytest.param(NAMED, "/docs", False, id="public-host-everything"),
    ],
)
def test_the_discreet_host_serves_the_citizen_pages_only(
    store: Store, tmp_path: Path, host: str, path: str, neutral_404: bool
) -> None:
    """Whoever follows a discreet message's link on a watched phone may try other paths on
    its host: nothing there names the service."""
    with api_client(
        store,
        REMINDER_RULES,
        tmp_path,
        {"crm": KEY},
        public_url=f"https://{NAMED}",
        discreet_public_url=f"https://{NEUTRAL}",
    ) as client:
        answer = client.get(path, headers={"host": host})
    plain = answer.status_code == 404 and answer.text == "Not Found"
    assert plain is neutral_404, (answer.status_code, answer.text[:200])
    assert answer.headers["x-content-type-options"] == "nosniff"  # inside the headers' layer


@pytest.mark.parametrize(
    ("host", "neutral_404"),
    [
        pytest.param("localhost:8001", True, id="neutral-port"),
        pytest.param("localhost.:8001", True, id="neutral-port-trailing-dot"),
        pytest.param("localhost:8000", False, id="public-port"),
        pytest.param("localhost", True, id="another-port-reveals-less"),
    ],
)
def test_one_host_name_two_ports_are_told_apart_by_the_port(
    store: Store, tmp_path: Path, host: str, neutral_404: bool
) -> None:
    """A development setup may serve the neutral host on another port of the same name: only
    then does the port decide, and only the public URL's port is the public host."""
    with api_client(
        store,
        REMINDER_RULES,
        tmp_path,
        {"crm": KEY},
        public_url="http://localhost:8000",
        discreet_public_url="http://localhost:8001",
    ) as client:
        answer = client.get("/docs", headers={"host": host})
    assert (answer.status_code == 404) is neutral_404, answer.status_code
