"""Pages that leave no trace, in a real browser: the quick exit, and the code gate of a person
with discreet messages (Debian's chromium, Playwright, axe-core; the API on loopback)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page

from notifier.channels.base import Outcome, SendResult
from notifier.channels.outbox import OutboxTransport
from notifier.models import Channel, MessageStatus, SafeHours, Safety
from notifier.store import PREFIX, Store
from notifier.store.safety_decisions import decision_in
from tests.support.browser import overflows, violations
from tests.support.builders import (
    DISCREET,
    KEY,
    NOW,
    PAGE_PATHS,
    TENANT,
    Console,
    ScriptedTransport,
    Site,
    bearer,
    deliver_all,
    deliver_next,
    deliverer,
    safe_site,
    screenshots,
    settings,
)

# What the gate must not show: the service, the person's contacts, what was sent to them
HIDDEN = ["gendarmerie", "notifications", "République", "••", "jeanne", "rendez-vous", "SMS"]


@pytest.fixture
def site(store: Store) -> Iterator[Site]:
    with safe_site(store) as served:
        yield served


def test_quick_exit_by_click_leaves_no_way_back(site: Site, page: Page) -> None:
    page.goto(site.pages())
    page.get_by_role("link", name="Quitter rapidement").click()
    page.wait_for_url(site.config.quick_exit_url)
    page.go_back()
    assert "/me/" not in page.url  # the page was replaced, not left behind in the history


def test_after_the_quick_exit_no_page_visited_is_left_behind(site: Site, page: Page) -> None:
    """Moving between the pages replaces the history entry: after the exit, the back button
    finds none of them, not only the last one."""
    page.goto(site.pages())
    page.get_by_role("link", name="Ce que nous vous avons envoyé").first.click()
    page.wait_for_url("**/history**")
    page.get_by_role("link", name="Rester en sécurité").first.click()
    page.wait_for_url("**/safety**")
    assert "Ne pas laisser de trace" in page.inner_text("main")  # what the exit cannot do
    page.get_by_role("link", name="Quitter rapidement").click()
    page.wait_for_url(site.config.quick_exit_url)
    page.go_back()
    assert "/me/" not in page.url, page.url


def test_quick_exit_by_pressing_shift_three_times(site: Site, page: Page) -> None:
    page.goto(site.pages(path="/needs"))
    page.keyboard.press("Shift")
    page.keyboard.press("Shift")
    assert "/me/" in page.url  # twice is not enough
    page.keyboard.press("Shift")
    page.wait_for_url(site.config.quick_exit_url)
    page.go_back()
    assert "/me/" not in page.url


def test_quick_exit_without_javascript_is_a_plain_link(site: Site, browser: Browser) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(site.pages(path="/history"))
        page.get_by_role("link", name="Quitter rapidement").click()
        page.wait_for_url(site.config.quick_exit_url)
    finally:
        context.close()


def test_every_page_of_a_discreet_person_is_behind_the_gate(site: Site) -> None:
    for name, path in PAGE_PATHS.items():
        answer = httpx.get(site.pages("citizen-d", path=path))
        assert answer.status_code == 200, name
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert "<title>Mon espace</title>" in answer.text
        assert [word for word in HIDDEN if word.lower() in answer.text.lower()] == [], name
        assert 'id="quick-exit"' in answer.text
    # nor can a form be posted past it
    token = site.pages("citizen-d").split("/me/")[1].split("?")[0]
    from notifier.web.guard import csrf_token

    csrf = csrf_token(site.config.secret(), token)
    posted = httpx.post(
        f"{site.url}/me/{token}/needs", data={"need": "easy_read", "csrf": csrf, "lang": "fr"}
    )
    assert "Bienvenue" in posted.text and "choices" not in site.recipients.fields(
        "crm", "citizen-d"
    )


def test_without_a_code_the_gate_only_says_to_ask_for_one_and_nobody_chooses_it(
    site: Site, page: Page, tmp_path: Path
) -> None:
    """Discreet messages set upstream, no code yet: whoever opens the link first may be the
    one reading the phone. The gate offers nothing to type, and a code posted is not kept;
    the code an agent sets opens every page."""
    deliver_next(site, tmp_path)
    page.goto(site.pages("citizen-d"))
    main = page.inner_text("main")
    assert "demandez un code à votre interlocuteur habituel" in main
    assert page.locator("main input, main form, main button").count() == 0
    assert page.title() == "Mon espace" and violations(page) == []
    token = site.pages("citizen-d").split("/me/")[1].split("?")[0]
    from notifier.web.guard import csrf_token

    form = {"csrf": csrf_token(site.config.secret(), token), "lang": "fr"}
    chosen = httpx.post(
        f"{site.url}/me/{token}/code", data=form | {"code": "246813", "again": "246813"}
    )
    assert chosen.status_code == 403 and "espace" not in chosen.cookies
    assert "demandez un code" in chosen.text and not site.recipients.has_code(TENANT, "citizen-d")
    set_code = httpx.post(
        f"{site.url}/v1/recipients/citizen-d/code", json={"code": "246813"}, headers=bearer(KEY)
    )
    assert set_code.status_code == 200  # known from events only: the API reaches them too
    page.goto(site.pages("citizen-d"))
    page.get_by_label("Code", exact=False).first.fill("246813")
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url("**/me/**")
    assert "Mes choix de notifications" in page.inner_text("main")
    page.goto(site.pages("citizen-d", path="/history"))
    text = page.inner_text("main")
    assert "Rendez-vous noté" in text or "rendez-vous est noté" in text  # the discreet words
    assert "Brigade" not in text and "13 juin" not in text  # nothing more, at a glance
    page.get_by_role("link", name="Lire ce message en entier").click()  # the whole message
    page.wait_for_url("**/history/**")
    whole = page.inner_text("main")
    assert "13 juin" in whole and "Brigade" in whole and "Reçu en message discret" in whole
    assert page.title() == "Mon espace" and violations(page) == []
    other = page.goto(page.url.split("/history/")[0] + "/history/AAAAAAAAAAAAAAAA")
    assert other is not None and other.status == 404  # not one of theirs


def test_wrong_codes_are_slowed_then_locked(site: Site) -> None:
    answer = httpx.post(
        f"{site.url}/v1/recipients/citizen-r/code",
        json={"code": "135790"},
        headers=bearer(KEY),
    )
    assert answer.status_code == 404  # not registered
    registered = DISCREET | {"id": "citizen-r"}
    auth = bearer(KEY)
    put = httpx.put(f"{site.url}/v1/recipients/citizen-r", json=registered, headers=auth)
    assert put.is_success
    bad = httpx.post(f"{site.url}/v1/recipients/citizen-r/code", json={"code": "12"}, headers=auth)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "code"]
    set_code = {"code": "135790"}
    assert httpx.post(
        f"{site.url}/v1/recipients/citizen-r/code", json=set_code, headers=auth
    ).is_success
    link = site.pages("citizen-r")
    token = link.split("/me/")[1].split("?")[0]
    from notifier.web.guard import csrf_token

    form = {"csrf": csrf_token(site.config.secret(), token), "lang": "fr"}
    with httpx.Client() as client:
        gate = client.get(link)
        assert "Saisissez votre code" in gate.text and "Le même code" not in gate.text
        wrong = client.post(f"{site.url}/me/{token}/code", data=form | {"code": "0000"})
        assert wrong.status_code == 403
        assert "Ce code ne convient pas" in wrong.text and "espace=" not in str(wrong.cookies)
        # slowed: a try within the second after a wrong code is refused, even the right code,
        # and not counted (no request waits for it: the store keeps the time)
        early = client.post(f"{site.url}/me/{token}/code", data=form | {"code": "135790"})
        assert early.status_code == 429 and "Patientez 1 seconde" in early.text
        assert "espace=" not in str(early.cookies)
        codes = []
        for _ in range(4):
            site.store.redis.delete(f"{PREFIX}code-tries:{TENANT}|citizen-r:wait")  # 1 s passes
            codes.append(
                client.post(f"{site.url}/me/{token}/code", data=form | {"code": "0000"}).status_code
            )
        assert codes == [403, 403, 403, 429]
        right = client.post(f"{site.url}/me/{token}/code", data=form | {"code": "135790"})
        assert right.status_code == 429 and "Réessayez dans 15 minutes" in right.text
        assert "Mes choix" not in client.get(link).text


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_gate_is_accessible_small_and_usable_with_the_keyboard(
    site: Site, page: Page, lang: str
) -> None:
    site.recipients.set_code(TENANT, "citizen-d", "123456")
    page.goto(site.pages("citizen-d", lang=lang))
    assert page.locator("html").get_attribute("lang") == lang
    assert violations(page) == []
    if lang == "fr":
        screenshots(page, "gate")
    page.set_viewport_size({"width": 320, "height": 800})
    assert overflows(page) == 0 and violations(page) == []
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "code":
            break
    else:
        pytest.fail("the code field cannot be reached with Tab")
    page.keyboard.type("123456")
    with page.expect_navigation():  # the gate's URL is a /me/ one too: wait for the next page
        page.keyboard.press("Enter")
    assert page.locator("h1").first.inner_text() != ("Bienvenue" if lang == "fr" else "Welcome")
    assert violations(page) == []


# --- "Staying safe" --------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_staying_safe_is_accessible_at_every_width(site: Site, page: Page, lang: str) -> None:
    answer = page.goto(site.pages(path="/safety", lang=lang))
    assert answer is not None and answer.status == 200
    assert answer.headers["cache-control"] == "no-store"
    text = page.inner_text("main")
    assert "17" in text and "114" in text and "3919" in text
    assert violations(page) == []
    if lang == "fr":
        screenshots(page, "safety")
    page.set_viewport_size({"width": 320, "height": 800})
    assert overflows(page) == 0 and violations(page) == []


def delivered_by_recipient(site: Site, tmp_path: Path) -> dict[str, object]:
    """Deliver what is due; each message's status by its recipient."""
    outbox = OutboxTransport(tmp_path / "outbox")
    worker = deliverer(
        site.store, dict.fromkeys(Channel, outbox), at=NOW, recipients=site.recipients
    )
    found = {}
    for message_id, status in deliver_all(worker, NOW).items():
        record = site.store.get(message_id)
        assert record is not None
        found[record.message.recipient.id] = status
    return found


def test_pause_on_the_page_withholds_and_resuming_sends_what_was_missed(
    site: Site, page: Page, tmp_path: Path
) -> None:
    page.goto(site.pages(path="/safety"))
    page.get_by_label("Mettre en pause tous nos messages").check(force=True)
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_url("**saved=1**")
    withheld = delivered_by_recipient(site, tmp_path)  # the bookings' confirmations
    assert withheld == {"citizen-1": MessageStatus.WITHHELD, "citizen-d": MessageStatus.SENT}
    assert len(list((tmp_path / "outbox").glob("*.json"))) == 1  # citizen-d's only
    page.get_by_label("Mettre en pause tous nos messages").uncheck(force=True)
    page.get_by_label("En reprenant, m'envoyer les messages de la pause").check(force=True)
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_url("**saved=1**")
    assert delivered_by_recipient(site, tmp_path) == {"citizen-1": MessageStatus.SENT}
    assert len(list((tmp_path / "outbox").glob("*.json"))) == 2


def test_discreet_messages_turned_on_by_the_person_need_the_code_they_choose_there(
    site: Site, page: Page, browser: Browser
) -> None:
    """The person, inside their open pages, chooses the code as they turn discreet messages
    on, and stays inside; another browser with the link meets the gate, which that code opens."""
    page.goto(site.pages(path="/safety"))
    page.get_by_role("checkbox", name="Messages discrets").check(force=True)
    page.get_by_label("À partir de", exact=True).fill("09:00")
    page.get_by_label("Jusqu'à", exact=True).fill("17:00")
    page.get_by_role("button", name="Enregistrer").click()
    assert "de 6 à 8 chiffres" in page.locator("[role=alert]").inner_text()  # none chosen
    assert decision_in(site.recipients.fields("crm", "citizen-1")) is None
    page.get_by_role("checkbox", name="Messages discrets").check(force=True)
    page.get_by_label("Votre code pour ces pages").fill("975310")
    page.get_by_label("Le même code, une deuxième fois").fill("975311")
    page.get_by_role("button", name="Enregistrer").click()
    assert "Les deux codes sont différents" in page.locator("[role=alert]").inner_text()
    assert not site.recipients.has_code(TENANT, "citizen-1")
    page.get_by_role("checkbox", name="Messages discrets").check(force=True)
    page.get_by_label("À partir de", exact=True).fill("09:00")
    page.get_by_label("Jusqu'à", exact=True).fill("17:00")
    page.get_by_label("Votre code pour ces pages").fill("975310")
    page.get_by_label("Le même code, une deuxième fois").fill("975310")
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_url("**saved=1**")
    assert page.title() == "Mon espace" and "Rester en sécurité" in page.inner_text("main")
    assert page.get_by_label("Votre code pour ces pages").count() == 0  # chosen once, here
    assert violations(page) == []
    chosen = decision_in(site.recipients.fields("crm", "citizen-1"))
    assert chosen is not None and chosen.by == "person"
    assert chosen.safety == Safety(discreet=True, safe_hours=SafeHours(start="09:00", end="17:00"))
    other = browser.new_context()
    try:
        elsewhere = other.new_page()
        elsewhere.goto(site.pages())
        assert "Saisissez votre code" in elsewhere.inner_text("main")
        elsewhere.get_by_label("Code", exact=False).first.fill("975310")
        elsewhere.get_by_role("button", name="Continuer").click()
        elsewhere.wait_for_url("**/me/**")
        assert "Mes choix de notifications" in elsewhere.inner_text("main")
    finally:
        other.close()


# --- the support console ---------------------------------------------------------------


def test_the_console_marks_the_person_and_resends_only_at_a_safe_time(
    console: Console, page: Page
) -> None:
    evening = {"safety": {"discreet": True, "safe_hours": {"start": "18:00", "end": "20:00"}}}
    (failed,) = console.post(
        id="news-d",
        type="procedure.status_changed",
        subject="procedure:P-9",
        data={"reference": "P-9", "status_label": "transmise"},
        recipient=DISCREET | evening,
    )
    at_seven = NOW + timedelta(hours=9)  # 19:00 in Paris: a safe time
    refused = SendResult(Outcome.PERMANENT, reason="not a mobile")
    worker = deliverer(
        console.store, {c: ScriptedTransport(*[refused] * 10) for c in Channel}, at=at_seven
    )
    deliver_all(worker, at_seven)
    assert console.store.get(failed).status is MessageStatus.PERMANENT_FAILURE  # type: ignore[union-attr]
    console.login(page)
    page.wait_for_url("**/ops/")
    page.goto(f"{console.url}/ops/find?q=citizen-d")  # every screen showing them marks them
    found = page.get_by_role("listitem").filter(has_text=failed)
    assert "contact protégé" in found.inner_text().lower()
    assert violations(page) == []
    page.goto(f"{console.url}/ops/messages/{failed}")  # the console's clock: 10:00 in Paris
    text = page.inner_text("main")
    assert "Contact protégé" in text and "messages discrets" in text and "18:00–20:00" in text
    assert page.get_by_role("button", name="Envoyer à nouveau").count() == 0
    assert violations(page) == []
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    session = cookies["notifier_ops"]
    token = hmac.new(settings().secret(), f"ops|{session}".encode(), hashlib.sha256).hexdigest()[
        :32
    ]  # the console's CSRF token, as its forms carry it
    forced = httpx.post(
        f"{console.url}/ops/messages/{failed}/resend",
        data={"reason": "demande", "token": token},
        cookies=cookies,
    )
    assert forced.status_code == 303 and forced.headers["location"].endswith("?done=unsafe")
    assert console.store.get(failed).status is MessageStatus.PERMANENT_FAILURE  # type: ignore[union-attr]


def test_a_citizen_link_that_does_not_work_names_no_service(site: Site) -> None:
    """An expired or broken link may be a discreet person's, opened by whoever holds their
    phone: its page says nothing of who wrote (no header, no service, no brigade)."""
    good = site.pages("citizen-d")
    broken = good.replace("/me/", "/me/x")
    for url in (broken, broken.replace("/me/", "/u/")):
        answer = httpx.get(url)
        assert answer.status_code in (404, 410), url
        assert "<title>Mon espace</title>" in answer.text
        assert [word for word in HIDDEN if word.lower() in answer.text.lower()] == [], url
        assert "brigade" not in answer.text.lower() and 'id="quick-exit"' in answer.text


def test_no_one_can_choose_the_code_of_a_person_without_discreet_messages(site: Site) -> None:
    """Else whoever holds the link would choose it first, and the person, turning discreet
    messages on later, would be locked out of their own pages."""
    from notifier.web.guard import csrf_token

    token = site.pages("citizen-1").split("/me/")[1].split("?")[0]
    csrf = csrf_token(site.config.secret(), token)
    chosen = httpx.post(
        f"{site.url}/me/{token}/code",
        data={"code": "123456", "csrf": csrf, "lang": "fr"},
    )
    assert chosen.status_code == 404
    assert not site.recipients.has_code(TENANT, "citizen-1")
