"""The support console in a real browser: log in, find, read the timeline, act, preview.

Same set-up as the citizen pages (tests/browser.py): Debian's chromium, axe-core, uvicorn on
loopback over the test's Valkey. ``UPDATE_SCREENSHOTS=1`` writes each screen to docs/.
"""

from __future__ import annotations

import json
import os

import httpx
import pytest
from playwright.sync_api import Page

from notifier.channels.base import Outcome, SendResult
from notifier.models import Channel, MessageStatus
from notifier.store import Store
from notifier.store.apikeys import ApiKeys, Scope
from tests.support.browser import overflows, violations
from tests.support.builders import (
    EXAMPLES,
    KEY,
    NOW,
    SCREENSHOTS,
    Console,
    ScriptedTransport,
    bearer,
    claim,
    deliver_all,
    deliverer,
    serve_site,
)


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
    links = page.locator("footer .fr-footer__bottom-list a").all_inner_texts()
    assert links == ["Accessibilité : non conforme", "Mentions légales", "Données personnelles"]
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
    assert record.history[-1].detail == "cancelled by support"
    page.get_by_role("link", name="Vue d'ensemble").click()
    assert f"agent-1 : cancel {reminder}" in page.inner_text("main")
    # by subject (pending only) and by recipient id
    page.goto(f"{console.url}/ops/find?q=appointment:BRG-75-00042")
    assert (
        f"{len(planned) - 1} message(s)" in page.content()
    )  # the cancelled one is no longer pending
    page.goto(f"{console.url}/ops/find?q=citizen-1")
    assert f"{len(planned)} message(s)" in page.content()
    assert "Contact protégé" not in page.content()  # marked only for safety settings
    # a message that went in the discreet wording (its contact is another's, watched)
    console.store.redis.hset(f"notifier:msg:{reminder}", "discreet", "1")
    page.goto(f"{console.url}/ops/find?q=citizen-1")
    marked = page.get_by_role("listitem").filter(has_text="Contact protégé")
    assert marked.count() == 1 and reminder in marked.inner_text()


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
    worker = deliverer(
        console.store, {c: ScriptedTransport(*[refused] * 10) for c in Channel}, at=NOW
    )
    deliver_all(worker, NOW)
    (failed,) = planned
    assert console.store.get(failed).status is MessageStatus.PERMANENT_FAILURE  # type: ignore[union-attr]
    console.login(page)
    page.wait_for_url("**/ops/")
    assert "non distribué (permanent-failure) : no channel could deliver : 1" in page.inner_text(
        "main"
    )
    page.goto(f"{console.url}/ops/messages/{failed}")
    page.get_by_label("Motif du nouvel envoi").fill("numéro corrigé par la brigade")
    page.get_by_role("button", name="Envoyer à nouveau").click()
    page.get_by_text("nouvel envoi prévu").wait_for()
    record = console.store.get(failed)
    assert record is not None and record.status is MessageStatus.SCHEDULED
    assert failed in [c.message_id for c in claim(console.store, NOW)]


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


def test_times_are_the_recipients_labelled_with_their_zone_and_statuses_in_french(
    console: Console, page: Page
) -> None:
    """A reminder due at 10:00 in Paris reads 10:00 CEST, never 10:00 (or 08:00) "UTC"; its
    status reads in French, with the API's name beside it for cross-checking."""
    data = {"starts_at": "2026-06-13T10:00:00+02:00", "unit": "Brigade", "address": "1 rue A"}
    planned = console.post(id="evt-zone", data=data)
    console.login(page)
    page.goto(f"{console.url}/ops/find?q=evt-zone")
    found = page.inner_text("main")
    assert "appointment-reminder-48h, prévu (scheduled), échéance 2026-06-11 10:00 CEST" in found
    assert "UTC" not in found
    confirmation = next(
        i
        for i in planned
        if console.store.get(i).message.rule == "appointment-confirmation"  # type: ignore[union-attr]
    )
    worker = deliverer(
        console.store, {c: ScriptedTransport(SendResult(Outcome.SENT)) for c in Channel}, at=NOW
    )
    deliver_all(worker, NOW)
    page.goto(f"{console.url}/ops/messages/{confirmation}")
    shown = page.inner_text("main")
    assert "État : envoyé (sent)" in shown
    assert "Prévu : 2026-06-10 10:00:00 CEST" in shown  # NOW, 08:00 UTC
    assert "2026-06-10 10:00:00 CEST — prévu (scheduled)" in shown
    assert "UTC" not in shown
    check_screen(page)


def _logged_in(console: Console, key: str) -> httpx.Client:
    """An agent's browser as HTTP: logged in with ``key``, holding the session cookie."""
    browser = httpx.Client(base_url=console.url)
    answer = browser.post("/ops/login", data={"key": key})
    assert answer.status_code == 303 and answer.headers["location"] == "/ops/", answer.text
    return browser


def _csrf_of(browser: httpx.Client, message: str) -> str:
    form = browser.get(f"/ops/messages/{message}").text
    return form.split('name="token" value="', 1)[1].split('"', 1)[0]


def _closed(browser: httpx.Client, message: str, token: str) -> None:
    """The session no longer opens the overview, searches or cancels: to the login page."""
    for answer in (
        browser.get("/ops/"),
        browser.get("/ops/find", params={"q": "evt-end"}),
        browser.get(f"/ops/messages/{message}"),
        browser.post(f"/ops/messages/{message}/cancel", data={"reason": "x", "token": token}),
    ):
        assert answer.status_code == 303 and answer.headers["location"] == "/ops/login"


@pytest.mark.parametrize("how", ["logout", "revoke"], ids=["logout", "revoke"])
def test_a_session_ends_at_logout_and_with_its_key(
    console: Console, how: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from notifier.cli import main
    from notifier.runtime.settings import get_settings

    (first, *_) = console.post(id="evt-end")
    browser = _logged_in(console, console.agent_key)
    cookie = browser.cookies["notifier_ops"]
    assert browser.get("/ops/").status_code == 200
    token = _csrf_of(browser, first)
    if how == "logout":
        assert browser.post("/ops/logout", data={"token": token}).status_code == 303
        browser.cookies.set("notifier_ops", cookie, path="/ops")  # a copy kept of the cookie
    else:
        monkeypatch.setenv("NOTIFIER_REDIS_URL", redis_url)  # `notifier keys revoke agent-1`
        get_settings.cache_clear()
        try:
            assert main(["keys", "revoke", "agent-1"]) == 0
        finally:
            get_settings.cache_clear()
    _closed(browser, first, token)
    assert console.store.get(first).status is MessageStatus.SCHEDULED  # type: ignore[union-attr]


def agent_session(console: Console, message: str) -> tuple[dict[str, str], str]:
    """An agent's session cookie, logged in over HTTP, and the CSRF token of a message's page."""
    agent = _logged_in(console, console.agent_key)
    return dict(agent.cookies), _csrf_of(agent, message)


def test_the_agent_and_reason_stay_in_the_audit_not_in_the_upstream_history(
    console: Console,
) -> None:
    """The reason may name people: the client reading GET /v1/messages/{id} sees only that
    support cancelled it."""
    (first, *_) = console.post(id="evt-private")
    cookies, token = agent_session(console, first)
    reason = "Mme Durand a appelé : son ex-conjoint lit ses SMS"
    answer = httpx.post(
        f"{console.url}/ops/messages/{first}/cancel",
        data={"reason": reason, "token": token},
        cookies=cookies,
    )
    assert answer.status_code == 303 and answer.headers["location"].endswith("done=cancel")
    upstream = httpx.get(f"{console.url}/v1/messages/{first}", headers=bearer(KEY))
    assert upstream.status_code == 200
    assert upstream.json()["status"] == "cancelled"
    assert upstream.json()["history"][-1]["detail"] == "cancelled by support"
    assert "Durand" not in upstream.text and "agent-1" not in upstream.text
    (entry,) = [json.loads(e) for e in console.store.redis.lrange("notifier:audit", 0, -1)]
    assert entry["agent"] == "agent-1" and entry["reason"] == reason
    assert entry["action"] == "cancel" and entry["target"] == first


@pytest.mark.parametrize(
    ("action", "outcome"),
    [("resend", SendResult(Outcome.SENT)), ("cancel", SendResult(Outcome.PERMANENT))],
    ids=["resend-a-sent-message", "cancel-a-failed-message"],
)
def test_an_action_that_changes_nothing_is_not_audited(
    console: Console, action: str, outcome: SendResult
) -> None:
    """Resend applies to a failed message, cancel to a pending one: on any other, nothing
    happens, and the audit says nothing happened rather than an action that was not taken."""
    (news,) = console.post(
        id="news-2",
        type="procedure.status_changed",
        data={"reference": "R-2", "status_label": "transmise"},
    )
    worker = deliverer(
        console.store, {c: ScriptedTransport(*[outcome] * 10) for c in Channel}, at=NOW
    )
    deliver_all(worker, NOW)
    before = console.store.get(news)
    assert before is not None and before.status in (
        MessageStatus.SENT,
        MessageStatus.PERMANENT_FAILURE,
    )
    cookies, token = agent_session(console, news)
    answer = httpx.post(
        f"{console.url}/ops/messages/{news}/{action}",
        data={"reason": "à la demande de la brigade", "token": token},
        cookies=cookies,
    )
    assert answer.status_code == 303 and answer.headers["location"].endswith("done=nothing")
    assert console.store.redis.lrange("notifier:audit", 0, -1) == []
    after = console.store.get(news)
    assert after is not None and after.history == before.history
    screen = httpx.get(f"{console.url}{answer.headers['location']}", cookies=cookies)
    assert "Rien n'a été fait" in screen.text


@pytest.mark.parametrize(
    ("public_url", "secure"),
    [
        pytest.param("https://notifications.example.gouv.fr", True, id="https"),
        pytest.param(None, False, id="none-and-served-over-http"),
    ],
)
def test_the_session_cookie_is_secure_whenever_the_public_url_is_https(
    store: Store, public_url: str | None, secure: bool
) -> None:
    """Behind a TLS proxy the request may read as http (a proxy not in
    ``forwarded_allow_ips``): the agent's cookie, which opens every citizen's messages, is
    ``Secure`` as the pages' is, by the public URL, not by how the request reads."""
    agent = ApiKeys(store.redis, {}).add("agent-tls", [], scopes={Scope.OPS})
    with serve_site(store, public_url=public_url) as site:
        login = httpx.post(f"{site.url}/ops/login", data={"key": agent})
    assert login.status_code == 303 and login.headers["location"] == "/ops/", login.text
    assert ("; secure" in login.headers["set-cookie"].lower()) is secure


def test_a_form_token_in_other_characters_is_refused_not_a_500(console: Console) -> None:
    """Compared as text, a token outside ASCII raised (a 500 and a traceback in the log)."""
    (first, *_) = console.post(id="evt-token")
    browser = _logged_in(console, console.agent_key)
    for path in ("/ops/logout", f"/ops/messages/{first}/cancel"):
        answer = browser.post(path, data={"token": "é" * 32, "reason": "asked"})
        assert answer.status_code == 403, answer.text
    assert browser.get("/ops/").status_code == 200  # still logged in
    assert console.store.get(first).status is MessageStatus.SCHEDULED  # type: ignore[union-attr]
