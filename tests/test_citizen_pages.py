"""The citizen's pages in a real browser: accessibility, keyboard, small screens, and effect.

Debian's chromium through Playwright (tests/browser.py), axe-core for WCAG 2.1 A/AA, the API
served by uvicorn on loopback over the test's Valkey. Each choice made on a page is checked
where it matters: in the next message the worker sends.

``UPDATE_SCREENSHOTS=1`` writes each page at 375 and 1280 px to docs/screenshots/.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import pytest
from playwright.sync_api import Browser, Page

from notifier.channels.outbox import OutboxTransport
from notifier.links import PAGES, UNSUBSCRIBE, Grant
from notifier.models import Channel
from notifier.store import Store
from tests.support.browser import overflows, violations
from tests.support.builders import (
    CONTACT_KEY,
    KEY,
    NOW,
    PAGE_PATHS,
    TENANT,
    VAPID_PRIVATE,
    VAPID_PUBLIC,
    Site,
    bearer,
    deliver_all,
    deliver_next,
    deliverer,
    screenshots,
    serve_site,
    settings,
)
from tests.support.fake_push import LOOPBACK_PUSH, FakePushService


@pytest.fixture
def site(store: Store) -> Iterator[Site]:
    with serve_site(store) as site:
        site.post(id="booked")  # what the engine knows of citizen-1: an inline recipient
        yield site


def procedure_news(site: Site, event_id: str) -> list[str]:
    return site.post(
        id=event_id,
        type="procedure.status_changed",
        subject="procedure:PLAINTE-2026-118",
        data={"reference": "PLAINTE-2026-118", "status_label": "transmise au parquet"},
    )


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("name", list(PAGE_PATHS))
def test_each_page_is_accessible_at_every_width(
    site: Site, page: Page, name: str, lang: str
) -> None:
    procedure_news(site, "news-1")
    answer = page.goto(site.pages(path=PAGE_PATHS[name], lang=lang))
    assert answer is not None and answer.status == 200
    assert page.locator("html").get_attribute("lang") == lang
    assert violations(page) == []
    assert overflows(page) == 0
    page.set_viewport_size({"width": 320, "height": 800})  # the narrowest phone
    assert overflows(page) == 0
    assert violations(page) == []
    page.set_viewport_size({"width": 640, "height": 450})  # 1280 × 900 at 200 % zoom
    assert overflows(page) == 0
    if lang == "fr":
        screenshots(page, name)


def test_the_pages_need_no_javascript_but_push(site: Site, browser: Browser) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(site.pages())
        page.get_by_label("E-mail").first.uncheck(force=True)  # DSFR: the label takes the click
        page.get_by_role("button", name="Enregistrer").click()
        assert "Vos choix sont enregistrés" in page.content()
        page.goto(site.pages(path="/device"))
        assert "besoin de JavaScript" in page.content()
    finally:
        context.close()


def test_keyboard_alone(site: Site, page: Page) -> None:
    """Skip link first, then every control in order; Space ticks, Enter submits."""
    page.goto(site.pages(path="/needs"))
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Aller au contenu"
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "need-easy_read":
            break
    else:
        pytest.fail("the easy-to-read box cannot be reached with Tab")
    page.keyboard.press("Space")
    while page.evaluate("document.activeElement.type") != "submit":
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**saved=1**")
    assert page.get_by_role("status").inner_text().startswith("Vos choix sont enregistrés")
    focused = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert focused is not None
    fields = site.recipients.fields(TENANT, "citizen-1")
    assert '"easy_read"' in fields["choices"]


def test_a_choice_on_the_page_changes_the_next_send(site: Site, page: Page, tmp_path: Path) -> None:
    push = {"endpoint": "https://push.example/abc", "keys": {"p256dh": "B" * 87, "auth": "A" * 22}}
    site.recipients.add_push(
        TENANT, "citizen-1", _subscription(push), time.time(), registered_only=False
    )
    site.store.redis.delete("notifier:due")  # the booking's reminders: not this test's
    procedure_news(site, "news-before-choices")
    before = deliver_next(site, tmp_path)
    assert before["channel"] == "webpush" and "Votre dossier a avancé" in before["content"]["title"]
    page.goto(site.pages())
    page.get_by_role("group", name="L'avancement").get_by_label("SMS").uncheck(force=True)
    page.get_by_role("button", name="Enregistrer").click()
    page.goto(site.pages(path="/needs"))
    page.get_by_label("Des messages faciles à lire").check(force=True)
    page.get_by_label("Je n'ai pas de smartphone").check(force=True)
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_url("**saved=1**")
    procedure_news(site, "news-after-choices")
    sent = deliver_next(site, tmp_path)
    # push first in the rule: not for "no smartphone"; SMS: opted out; so the e-mail, easy
    assert sent["channel"] == "email"
    assert sent["content"]["text"].startswith("Bonjour,\n\nVotre dossier avance.")


def _subscription(raw: dict[str, Any]) -> Any:
    from notifier.models import PushSubscription

    return PushSubscription.model_validate(raw)


def test_one_click_unsubscribe_needs_no_cookie_nor_javascript(site: Site) -> None:
    token = site.links.token(
        Grant("citizen-1", UNSUBSCRIBE, "procedure_news", "email", tenant=TENANT)
    )
    link = f"{site.url}/u/{token}"
    looked = httpx.get(link)  # what a mail scanner does: nothing changes
    assert looked.status_code == 200 and "Confirmer" in looked.text
    assert "choices" not in site.recipients.fields(TENANT, "citizen-1")
    clicked = httpx.post(link, data={"List-Unsubscribe": "One-Click"})  # RFC 8058, no cookie
    assert clicked.status_code == 200
    assert '"procedure_news"' in site.recipients.fields(TENANT, "citizen-1")["choices"]
    forged = httpx.post(link, data={"lang": "fr"})  # the page's form without its CSRF token
    assert forged.status_code == 403 and "formulaire a expiré" in forged.text


def _but_the_way_out(html: str) -> str:
    """The page without its quick exit, the one link under /me/ that opens nothing."""
    assert html.count('href="/me/exit"') == 1
    return html.replace('href="/me/exit"', "")


def test_an_unsubscribe_link_opens_no_page(site: Site) -> None:
    """A List-Unsubscribe link is kept for a year in mailboxes and archives: it unsubscribes,
    and leads nowhere else (the pages need their own 30-day link)."""
    token = site.links.token(
        Grant("citizen-1", UNSUBSCRIBE, "procedure_news", "email", tenant=TENANT)
    )
    for lang in ("fr", "en"):
        shown = httpx.get(f"{site.url}/u/{token}", params={"lang": lang})
        assert shown.status_code == 200 and "/me/" not in _but_the_way_out(shown.text)
        done = httpx.post(f"{site.url}/u/{token}", data={"csrf": _csrf_of(token), "lang": lang})
        assert done.status_code == 200 and "/me/" not in _but_the_way_out(done.text)
    assert '"procedure_news"' in site.recipients.fields(TENANT, "citizen-1")["choices"]


PAGE_ROUTES = [pytest.param("GET", path, id=f"GET /me/…{path}") for path in PAGE_PATHS.values()] + [
    pytest.param("POST", path, id=f"POST /me/…{path}")
    for path in ("/preferences", "/needs", "/push", "/push/remove")
]


@pytest.mark.parametrize(("method", "path"), PAGE_ROUTES)
def test_an_unsubscribe_token_opens_no_page(site: Site, method: str, path: str) -> None:
    token = site.links.token(
        Grant("citizen-1", UNSUBSCRIBE, "procedure_news", "email", tenant=TENANT)
    )
    answer = httpx.request(
        method,
        f"{site.url}/me/{token}{path}",
        data={"csrf": _csrf_of(token)} if method == "POST" and "push" not in path else None,
        headers={"X-CSRF-Token": _csrf_of(token)},
    )
    assert answer.status_code == 404
    assert "choices" not in site.recipients.fields(TENANT, "citizen-1")


@pytest.mark.parametrize(
    "form",
    [{"List-Unsubscribe": "One-Click"}, None],
    ids=["one-click", "page"],
)
def test_a_pages_token_unsubscribes_nothing(site: Site, form: dict[str, str] | None) -> None:
    token = site.links.token(Grant("citizen-1", PAGES, tenant=TENANT))
    link = f"{site.url}/u/{token}"
    assert httpx.get(link).status_code == 404
    answer = httpx.post(link, data=form or {"csrf": _csrf_of(token), "lang": "fr"})
    assert answer.status_code == 404
    assert "choices" not in site.recipients.fields(TENANT, "citizen-1")


def _csrf_of(token: str) -> str:
    from notifier.web.guard import csrf_token

    return csrf_token(CONTACT_KEY, token)


BROWSER_PUSH = {  # a real browser's PushSubscription.toJSON()
    "endpoint": "https://fcm.googleapis.com/fcm/send/abc",
    "expirationTime": None,
    "keys": {"p256dh": "B" * 87, "auth": "A" * 22},
}
MALFORMED_PUSH = [
    pytest.param(b'{"endpoint": ', 400, None, id="not-json"),
    pytest.param(b"", 400, None, id="empty"),
    pytest.param(b"[1, 2]", 422, ["body"], id="not-an-object"),
    pytest.param(
        b'{"endpoint": "https://fcm.googleapis.com/x"}', 422, ["body", "keys"], id="no-keys"
    ),
    pytest.param(b'{"endpoint": 7, "keys": {}}', 422, ["body", "endpoint"], id="endpoint-number"),
    pytest.param(
        b'{"endpoint": "https://fcm.googleapis.com/x", "keys": "k"}',
        422,
        ["body", "keys"],
        id="keys-text",
    ),
]


@pytest.mark.parametrize("route", ["/push", "/push/remove"], ids=["push", "push-remove"])
@pytest.mark.parametrize(("body", "status", "loc"), MALFORMED_PUSH)
def test_a_malformed_push_body_is_a_4xx_naming_the_field(
    site: Site, route: str, body: bytes, status: int, loc: list[str] | None
) -> None:
    link = site.pages().split("?")[0]
    answer = httpx.post(
        link + route,
        content=body,
        headers={"Content-Type": "application/json", "X-CSRF-Token": _csrf(site, link)},
    )
    assert answer.status_code == status, answer.text
    if loc is not None:
        assert loc in [e["loc"] for e in answer.json()["detail"]]
    assert not any(f.startswith("push:") for f in site.recipients.fields(TENANT, "citizen-1"))


def test_a_browsers_own_subscription_is_accepted(site: Site) -> None:
    link = site.pages().split("?")[0]
    headers = {"X-CSRF-Token": _csrf(site, link)}
    added = httpx.post(link + "/push", json=BROWSER_PUSH, headers=headers)
    assert added.status_code == 201, added.text
    assert any(f.startswith("push:") for f in site.recipients.fields(TENANT, "citizen-1"))
    removed = httpx.post(link + "/push/remove", json=BROWSER_PUSH, headers=headers)
    assert removed.status_code == 200, removed.text
    assert not any(f.startswith("push:") for f in site.recipients.fields(TENANT, "citizen-1"))


def test_a_form_without_its_csrf_token_is_refused(site: Site) -> None:
    link = site.pages(path="/needs")
    refused = httpx.post(link.split("?")[0], data={"need": "easy_read", "csrf": "forged"})
    assert refused.status_code == 403
    assert "choices" not in site.recipients.fields(TENANT, "citizen-1")


def test_a_wrong_or_expired_link_says_what_to_do(site: Site, page: Page) -> None:
    answer = page.goto(f"{site.url}/me/not-a-token")
    assert answer is not None and answer.status == 404
    assert "Ce lien n'est pas valide" in page.content()
    assert violations(page) == []
    tampered = site.pages().replace("/me/", "/me/x")
    assert httpx.get(tampered).status_code == 404
    with mock.patch.object(site.links, "clock", lambda: time.time() - 31 * 86400):
        old = site.pages()
    answer = page.goto(old)
    assert answer is not None and answer.status == 410
    assert "Ce lien a expiré" in page.content()
    unsubscribe = site.links.token(
        Grant("citizen-1", UNSUBSCRIBE, "procedure_news", "email", tenant=TENANT)
    )
    assert httpx.get(f"{site.url}/me/{unsubscribe}").status_code == 404  # another purpose


def test_nothing_personal_in_urls_or_logs(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    link = site.pages()
    assert "citizen-1" not in link and "612345678" not in link and "@" not in link
    httpx.post(
        link.split("?")[0] + "/needs",
        data={"need": "easy_read", "csrf": _csrf(site, link), "lang": "fr"},
    )
    logged = caplog.text
    assert "citizen-1" not in logged and "jeanne" not in logged


def _csrf(site: Site, link: str) -> str:
    from notifier.web.guard import csrf_token

    return csrf_token(site.config.secret(), link.split("/me/")[1].split("?")[0].split("/")[0])


PUSH_STUB = """
(() => {
  // Chromium's PushManager talks to the browser vendor's push service, out of reach here:
  // it answers with the subscription of notifier's loopback push service instead.
  const stored = %s;
  let current = null;
  window.__applicationServerKey = null;
  const asObject = (raw) => ({
    endpoint: raw.endpoint,
    toJSON: () => raw,
    unsubscribe: async () => { current = null; return true; },
  });
  PushManager.prototype.subscribe = async function (options) {
    const key = new Uint8Array(options.applicationServerKey);
    window.__applicationServerKey = btoa(String.fromCharCode(...key));
    current = asObject(stored);
    return current;
  };
  PushManager.prototype.getSubscription = async function () { return current; };
})();
"""


def test_push_end_to_end_in_chromium(site: Site, browser: Browser, tmp_path: Path) -> None:
    """Subscribe on the page → stored → the test message goes through pywebpush to the
    loopback push service (which decrypts it) → delivered to the page's service worker,
    which shows it."""
    import base64
    import json

    from notifier.channels.webpush import WebPushTransport

    push = FakePushService()
    browser_side = push.subscribe("browser-1")
    browser_side.application_server_key = VAPID_PUBLIC
    context = browser.new_context()
    context.grant_permissions(["notifications"], origin=site.url)
    context.add_init_script(PUSH_STUB % json.dumps(browser_side.subscription()))
    page = context.new_page()
    try:
        page.goto(site.pages(path="/device"))
        page.get_by_role(
            "button", name="Activer les notifications sur cet appareil", exact=True
        ).click()
        page.get_by_text("Les notifications sont activées").wait_for()
        sent_key = page.evaluate("window.__applicationServerKey")
        assert base64.b64decode(sent_key) == base64.urlsafe_b64decode(VAPID_PUBLIC + "==")
        assert any(f.startswith("push:") for f in site.recipients.fields(TENANT, "citizen-1"))
        outbox = OutboxTransport(tmp_path / "outbox")  # the booking's confirmation
        worker = deliverer(
            site.store,
            {
                Channel.WEBPUSH: WebPushTransport(
                    VAPID_PRIVATE,
                    "mailto:dpo@example.gouv.fr",
                    clock=lambda: NOW,
                    allowed_hosts=LOOPBACK_PUSH,
                ),
                Channel.SMS: outbox,
                Channel.EMAIL: outbox,
            },
            at=NOW,
            recipients=site.recipients,
        )
        deliver_all(worker, NOW)
        (delivery,) = push.delivered
        assert delivery.payload["title"] == "Les notifications sont activées"
        # the browser vendor's push service hands the decrypted payload to the browser
        cdp = context.new_cdp_session(page)
        registrations: list[str] = []
        cdp.on(
            "ServiceWorker.workerRegistrationUpdated",
            lambda e: registrations.extend(r["registrationId"] for r in e["registrations"]),
        )
        cdp.send("ServiceWorker.enable")
        page.wait_for_timeout(200)
        assert registrations, "the page registered its service worker"
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {
                "origin": site.url + "/",
                "registrationId": registrations[0],
                "data": json.dumps(delivery.payload),
            },
        )
        shown = page.wait_for_function(
            """() => navigator.serviceWorker.ready
                 .then(r => r.getNotifications())
                 .then(ns => ns.length ? ns.map(n => [n.title, n.body]) : null)"""
        ).json_value()
        assert shown == [[delivery.payload["title"], delivery.payload["body"]]]
        page.get_by_role(
            "button", name="Désactiver les notifications sur cet appareil", exact=True
        ).click()
        page.get_by_text("Les notifications sont désactivées").wait_for()
        assert not any(f.startswith("push:") for f in site.recipients.fields(TENANT, "citizen-1"))
    finally:
        context.close()
        push.close()


def test_a_registered_recipient_has_the_same_pages(site: Site, page: Page) -> None:
    registered = {
        "id": "citizen-9",
        "locale": "en",
        "contacts": {"phone": "+262692123456", "email": "paul.durand@example.org"},
    }
    answer = httpx.put(
        f"{site.url}/v1/recipients/citizen-9",
        json=registered,
        headers=bearer(KEY),
    )
    assert answer.status_code == 200, answer.text
    page.goto(site.pages("citizen-9").replace("?lang=fr", ""))
    assert page.locator("html").get_attribute("lang") == "en"  # the recipient's language
    text = page.inner_text("main")
    assert "06 •• •• •• 56" in text and "p•••@example.org" in text
    assert "692123456" not in page.content() and "paul.durand" not in page.content()


def test_requests_are_rate_limited(site: Site) -> None:
    from notifier.web.guard import REQUESTS_PER_MINUTE

    link = site.pages(path="/needs")
    with httpx.Client() as client:  # twice the quota and one: over it in any one minute
        codes = [client.get(link).status_code for _ in range(2 * REQUESTS_PER_MINUTE + 1)]
    assert codes[0] == 200 and 429 in codes
    assert codes.count(200) <= 2 * REQUESTS_PER_MINUTE


def test_what_we_sent_you_lists_the_messages_with_their_words(
    site: Site, page: Page, tmp_path: Path
) -> None:
    deliver_next(site, tmp_path)  # the booking's confirmation, due now: sent by SMS
    page.goto(site.pages(path="/history"))
    text = page.inner_text("main")
    assert "SMS" in text and "envoyé" in text
    assert "Gendarmerie : votre rendez-vous" in text or "Gendarmerie" in text
    assert "2026" in text  # its date, in the person's zone
    assert violations(page) == []
    screenshots(page, "history")
    page.goto(site.pages(path="/history", lang="en"))
    assert "Text message" in page.inner_text("main") and "sent" in page.inner_text("main")


def test_what_we_sent_you_lists_only_what_reached_the_person(
    site: Site, page: Page, tmp_path: Path
) -> None:
    """A cancelled appointment: its reminders were never sent, so they are not listed (no
    date with an empty channel, no "annulé" without words); the confirmation and the notice
    of the cancellation, which reached the person, are, each with its words."""
    deliver_next(site, tmp_path)  # the booking's confirmation
    site.post(id="cancelled", type="appointment.cancelled")
    notice = deliver_next(site, tmp_path)  # the reminders cancelled, the notice sent
    assert notice["channel"] == "sms"
    page.goto(site.pages(path="/history"))
    items = page.locator("main li")
    assert items.count() == 2
    assert page.locator("main .fr-badge").all_text_contents() == ["envoyé", "envoyé"]
    for heading in page.locator("main li h2").all_inner_texts():
        assert heading.endswith("— SMS"), heading
    for item in items.all_inner_texts():
        assert "Gendarmerie" in item, item  # each with the words that reached the person
    assert violations(page) == []


def test_the_words_promise_only_what_is_offered(store: Store, page: Page) -> None:
    """Without push configured, the device page says so, and promises no browser prompt; a
    channel without a contact says in words what is missing."""
    with serve_site(store, vapid_private_key=None, vapid_subject=None) as site:
        site.post(id="booked", recipient={"id": "citizen-1", "contacts": {"phone": "+33612345678"}})
        procedure_news(site, "news-1")
        page.goto(site.pages(path="/device"))
        device = page.inner_text("main")
        assert "Nous n'envoyons pas de notification sur les appareils pour le moment." in device
        assert "demandera votre accord" not in device and "Recevez nos messages" not in device
        assert page.get_by_role("button").count() == 0
        page.goto(site.pages())
        choices = page.inner_text("main")
        assert "E-mail : nous n'avons pas votre adresse e-mail" in choices
        assert "coordonnée" not in choices.replace("Vos coordonnées", "")
        assert "qui sont facultatives" not in choices
        assert violations(page) == []


FOOTER = {
    "fr": ["Accessibilité : non conforme", "Mentions légales", "Données personnelles"],
    "en": ["Accessibility: not compliant", "Legal notice", "Personal data"],
}
PUBLIC_PAGES = {
    "accessibility": ("/accessibilite", "Défenseur des droits"),
    "legal": ("/mentions-legales", "NOTIFIER_LEGAL_NOTICE_URL"),
    "personal-data": ("/donnees-personnelles", "NOTIFIER_PERSONAL_DATA_URL"),
}


def footer(page: Page) -> list[tuple[str, str | None]]:
    links = page.locator("footer .fr-footer__bottom-list a.fr-footer__bottom-link").all()
    return [(a.inner_text(), a.get_attribute("href")) for a in links]


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_page_links_the_statements_a_public_site_must(
    site: Site, page: Page, lang: str
) -> None:
    """Accessibility statement, legal notice, personal data: in each page's footer (DSFR's
    fr-footer__bottom-list), each leading to a page served here while the operator has not
    given its own address."""
    expected = [
        (FOOTER[lang][0], f"/accessibilite?lang={lang}"),
        (FOOTER[lang][1], f"/mentions-legales?lang={lang}"),
        (FOOTER[lang][2], f"/donnees-personnelles?lang={lang}"),
    ]
    for path in PAGE_PATHS.values():
        page.goto(site.pages(path=path, lang=lang))
        assert footer(page) == expected, path
    # a broken citizen link answers the neutral page (it may be a discreet person's, read by
    # whoever holds their phone): nothing there leads to the service's pages
    page.goto(f"{site.url}/me/not-a-token?lang={lang}")
    assert footer(page) == []
    page.goto(site.pages(lang=lang))
    page.get_by_role("link", name=FOOTER[lang][0]).click()
    statement = page.inner_text("main")
    assert ("non conformes" if lang == "fr" else "not compliant") in statement
    for checked in ("axe-core", "WCAG 2.1", "320", "200 %", "Défenseur des droits"):
        assert checked in statement, checked
    assert footer(page) == expected


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("name", list(PUBLIC_PAGES))
def test_the_statement_pages_are_accessible(site: Site, page: Page, name: str, lang: str) -> None:
    path, words = PUBLIC_PAGES[name]
    answer = page.goto(f"{site.url}{path}?lang={lang}")
    assert answer is not None and answer.status == 200
    assert page.locator("html").get_attribute("lang") == lang
    assert words in page.inner_text("main")
    assert violations(page) == []
    page.set_viewport_size({"width": 320, "height": 800})
    assert overflows(page) == 0
    assert violations(page) == []


def test_the_operator_s_own_notices_replace_the_placeholders(store: Store, page: Page) -> None:
    with serve_site(
        store,
        legal_notice_url="https://www.gendarmerie.interieur.gouv.fr/mentions-legales",
        personal_data_url="https://www.gendarmerie.interieur.gouv.fr/donnees-personnelles",
        accessibility_contact="mailto:accessibilite@example.gouv.fr",
    ) as site:
        url, config = site.url, site.config
        site.post(id="booked")
        page.goto(site.pages())
        assert [href for _, href in footer(page)] == [
            "/accessibilite?lang=fr",
            config.legal_notice_url,
            config.personal_data_url,
        ]
        moved = httpx.get(f"{url}/mentions-legales", follow_redirects=False)
        assert moved.status_code == 303 and moved.headers["location"] == config.legal_notice_url
        page.goto(f"{url}/accessibilite")
        contact = page.get_by_role("link", name="accessibilite@example.gouv.fr")
        assert contact.get_attribute("href") == "mailto:accessibilite@example.gouv.fr"


def test_a_notice_address_must_be_a_link() -> None:
    with pytest.raises(ValueError, match="legal_notice_url"):
        settings(legal_notice_url="javascript:alert(1)")


OTHER_CHARACTERS = "é" * 32  # a CSRF token's length, not in ASCII


@pytest.mark.parametrize(
    "route",
    ["/preferences", "/needs", "/safety", "/code"],
    ids=["preferences", "needs", "safety", "code"],
)
def test_a_form_token_in_other_characters_is_refused_not_a_500(site: Site, route: str) -> None:
    """Compared as text, a token outside ASCII raised (a 500 and a traceback in the log)."""
    link = site.pages().split("?")[0]
    answer = httpx.post(link + route, data={"csrf": OTHER_CHARACTERS, "lang": "fr"})
    assert answer.status_code == 403, answer.text
    assert "choices" not in site.recipients.fields(TENANT, "citizen-1")


@pytest.mark.parametrize("route", ["/push", "/push/remove"], ids=["push", "push-remove"])
def test_a_push_header_token_in_other_characters_is_refused_not_a_500(
    site: Site, route: str
) -> None:
    link = site.pages().split("?")[0]
    headers = {"X-CSRF-Token": OTHER_CHARACTERS.encode("latin-1")}
    answer = httpx.post(link + route, json=BROWSER_PUSH, headers=headers)
    assert answer.status_code == 403, answer.text
    assert not any(f.startswith("push:") for f in site.recipients.fields(TENANT, "citizen-1"))
