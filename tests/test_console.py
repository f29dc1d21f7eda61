"""The support console in a real browser: log in, find, read the timeline, act, preview.

Same set-up as the citizen pages (tests/browser.py): Debian's chromium, axe-core, uvicorn on
loopback over the test's Valkey. ``UPDATE_SCREENSHOTS=1`` writes each screen to docs/.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from playwright.sync_api import Browser, Page

from notifier.api import create_app
from notifier.apikeys import ApiKeys, Scope
from notifier.channels.base import Outcome, SendResult
from notifier.delivery import Deliverer
from notifier.models import Channel, MessageStatus
from notifier.reloading import rules_holder
from notifier.store import Store
from notifier.templates.renderer import Renderer
from tests.browser import overflows, serve, violations
from tests.conftest import CONTACT_KEY, EXAMPLES, NOW, make_event
from tests.test_citizen_pages import KEY, SCREENSHOTS, settings
from tests.test_delivery import ScriptedTransport


class Console:
    def __init__(self, url: str, store: Store, agent_key: str, reader_key: str) -> None:
        self.url, self.store = url, store
        self.agent_key, self.reader_key = agent_key, reader_key

    def post(self, **fields: object) -> list[str]:
        body = make_event(**fields).model_dump(mode="json")
        answer = httpx.post(
            f"{self.url}/v1/events", json=body, headers={"Authorization": f"Bearer {KEY}"}
        )
        assert answer.status_code == 202, answer.text
        return [p["id"] for p in answer.json()["planned"]]

    def login(self, page: Page, key: str | None = None) -> None:
        page.goto(f"{self.url}/ops/login")
        page.get_by_label("Votre clé d'agent").fill(key or self.agent_key)
        page.get_by_role("button", name="Se connecter").click()


@pytest.fixture
def console(store: Store) -> Iterator[Console]:
    keys = ApiKeys(store.redis, {})
    agent = keys.add("agent-1", [], scopes={Scope.OPS})
    reader = keys.add("reader", [], scopes={Scope.EVENTS})
    store = Store(store.redis, contact_key=CONTACT_KEY)  # as `notifier api` builds it
    app = create_app(settings(), store, rules_holder(EXAMPLES / "rules"), clock=lambda: NOW)
    with serve(app) as url:
        yield Console(url, store, agent, reader)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def shot(page: Page, name: str) -> None:
    if os.environ.get("UPDATE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"ops-{name}.png", full_page=True)


def check_screen(page: Page) -> None:
    assert violations(page) == []
    page.set_viewport_size({"width": 320, "height": 800})
    assert overflows(page) == 0
    page.set_viewport_size({"width": 1280, "height": 900})


def test_no_anonymous_access_and_only_ops_keys(console: Console, page: Page) -> None:
    for path in ("/ops/", "/ops/find?q=x", "/ops/preview", "/ops/messages/AAAAAAAAAAAAAAAA"):
        answer = httpx.get(console.url + path)
        assert answer.status_code == 303 and answer.headers["location"] == "/ops/login", path
    console.login(page, console.reader_key)  # a valid key, without the ops scope
    assert "n'ouvre pas la console" in page.content()
    console.login(page, "nk_not-a-key")
    assert "n'ouvre pas la console" in page.content()
    check_screen(page)
    shot(page, "login")
    forged = httpx.get(console.url + "/ops/", cookies={"notifier_ops": "forged.cookie"})
    assert forged.status_code == 303


def test_find_read_and_cancel_with_a_reason(console: Console, page: Page) -> None:
    planned = console.post(id="evt-42")
    console.login(page)
    page.wait_for_url("**/ops/")
    check_screen(page)
    shot(page, "overview")
    page.get_by_role("link", name="Rechercher").click()
    page.get_by_label("Identifiant d'un message").fill("evt-42")
    page.get_by_role("button", name="Rechercher").click()
    assert f"{len(planned)} message(s)" in page.content()
    check_screen(page)
    shot(page, "find")
    reminder = next(
        i
        for i in planned
        if console.store.get(i).message.rule == "appointment-reminder-48h"  # type: ignore[union-attr]
    )
    page.get_by_role("link", name=reminder).click()
    assert "Chronologie" in page.content() and "scheduled" in page.content()
    check_screen(page)
    shot(page, "message")
    page.get_by_label("Motif de l'annulation").fill("rendez-vous annulé par téléphone")
    page.get_by_role("button", name="Annuler ce message").click()
    page.get_by_text("Action enregistrée : annulation").wait_for()
    record = console.store.get(reminder)
    assert record is not None and record.status is MessageStatus.CANCELLED
    assert record.history[-1].detail == "cancelled by agent-1: rendez-vous annulé par téléphone"
    page.get_by_role("link", name="Vue d'ensemble").click()
    assert f"agent-1 : cancel {reminder}" in page.inner_text("main")
    # by subject (pending only) and by recipient id
    page.goto(f"{console.url}/ops/find?q=appointment:BRG-75-00042")
    assert (
        f"{len(planned) - 1} message(s)" in page.content()
    )  # the cancelled one is no longer pending
    page.goto(f"{console.url}/ops/find?q=citizen-1")
    assert f"{len(planned)} message(s)" in page.content()


def test_an_action_needs_its_csrf_token_and_a_reason(console: Console, page: Page) -> None:
    (first, *_) = console.post(id="evt-7")
    console.login(page)
    page.wait_for_url("**/ops/")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    forged = httpx.post(
        f"{console.url}/ops/messages/{first}/cancel",
        data={"reason": "x", "token": "forged"},
        cookies=cookies,
    )
    assert forged.status_code == 403
    page.goto(f"{console.url}/ops/messages/{first}")
    token = page.locator("input[name=token]").first.get_attribute("value")
    no_reason = httpx.post(
        f"{console.url}/ops/messages/{first}/cancel",
        data={"reason": " ", "token": token},
        cookies=cookies,
    )
    assert no_reason.status_code == 303 and "done=reason" in no_reason.headers["location"]
    assert console.store.get(first).status is not MessageStatus.CANCELLED  # type: ignore[union-attr]


def test_send_a_failed_message_again(console: Console, page: Page) -> None:
    planned = console.post(
        id="news-1",
        type="procedure.status_changed",
        data={"reference": "R-1", "status_label": "transmise"},
    )
    refused = SendResult(Outcome.PERMANENT, reason="not a mobile")
    worker = Deliverer(
        console.store,
        Renderer(EXAMPLES / "templates"),
        {c: ScriptedTransport(*[refused] * 10) for c in Channel},  # type: ignore[misc]
        clock=lambda: NOW,
    )
    for item in console.store.claim_due(NOW, limit=10, lease=timedelta(minutes=5)):
        worker.deliver(item.message_id, item.claim)
    (failed,) = planned
    assert console.store.get(failed).status is MessageStatus.PERMANENT_FAILURE  # type: ignore[union-attr]
    console.login(page)
    page.wait_for_url("**/ops/")
    assert "permanent-failure: no channel could deliver : 1" in page.inner_text("main")
    page.goto(f"{console.url}/ops/messages/{failed}")
    page.get_by_label("Motif du nouvel envoi").fill("numéro corrigé par la brigade")
    page.get_by_role("button", name="Envoyer à nouveau").click()
    page.get_by_text("nouvel envoi prévu").wait_for()
    record = console.store.get(failed)
    assert record is not None and record.status is MessageStatus.SCHEDULED
    assert failed in [
        c.message_id for c in console.store.claim_due(NOW, limit=10, lease=timedelta(minutes=5))
    ]


def test_preview_an_event(console: Console, page: Page) -> None:
    console.login(page)
    page.goto(f"{console.url}/ops/preview")
    event = json.loads((EXAMPLES / "events" / "appointment-booked.json").read_text())
    page.get_by_label("Événement (JSON)").fill(json.dumps(event, indent=2))
    page.get_by_role("button", name="Prévisualiser").click()
    result = page.inner_text("pre")
    assert "appointment-reminder-48h" in result and "Gendarmerie" in result
    check_screen(page)
    shot(page, "preview")
    page.get_by_label("Événement (JSON)").fill('{"id": "x"}')
    page.get_by_role("button", name="Prévisualiser").click()
    assert "type: Field required" in page.inner_text("[role=alert]")
    assert console.store.pending_count() == 0  # nothing stored


def test_the_keyboard_reaches_the_search(console: Console, page: Page) -> None:
    console.post(id="evt-kb")
    console.login(page)
    page.goto(f"{console.url}/ops/find")
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "q":
            break
    else:
        pytest.fail("the search field cannot be reached with Tab")
    page.keyboard.type("evt-kb")
    page.keyboard.press("Enter")
    page.wait_for_url("**q=evt-kb**")
    assert "message(s)" in page.content()


def test_find_a_person_by_phone_or_e_mail_without_keeping_either(
    console: Console, page: Page, caplog: pytest.LogCaptureFixture
) -> None:
    planned = console.post(id="evt-contact")
    other = console.post(
        id="evt-someone-else",
        subject="appointment:OTHER",
        recipient={"id": "citizen-2", "contacts": {"phone": "+33699999999"}},
    )
    console.login(page)
    for typed in ("06 12 34 56 78", "+33 6 12 34 56 78", "JEANNE.Martin@example.org"):
        page.goto(f"{console.url}/ops/find?q={typed}")
        links = {a.inner_text() for a in page.locator("main ul a").all()}
        assert links == set(planned), typed
    assert not set(other) & links
    stored = str(
        {
            k: console.store.redis.zrange(k, 0, -1)
            for k in console.store.redis.keys("notifier:contacts:*")
        }
    )
    assert "612345678" not in stored and "jeanne" not in stored
    assert "612345678" not in caplog.text and "jeanne" not in caplog.text.lower()
