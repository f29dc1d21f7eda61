"""The code gate's limits and sessions: locks that add up until an agent sets a new code,
six-digit codes, and sessions that end on the server (quick exit, new code). The API on
loopback over the test's Valkey; the browser where the quick exit's script is the subject."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from playwright.sync_api import Browser

from notifier.links import UNSUBSCRIBE, Grant
from notifier.models import Channel, OptOut
from notifier.store import PREFIX, Store, pages_codes
from notifier.store.recipients import Choices
from notifier.web.guard import csrf_token
from notifier.web.text import TEXT
from tests.support.browser import overflows, violations
from tests.support.builders import DISCREET, KEY, TENANT, Site, safe_site, serve_site, wrong_codes

CLEAR_SITE_DATA = '"cache", "cookies", "storage"'
CODE_TRIES, CODE_LOCKOUTS = 5, 3  # the figures the gate says (checked below)
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def site(store: Store) -> Iterator[Site]:
    with safe_site(store) as served:
        yield served


def fifteen_minutes_pass(site: Site, recipient: str = "citizen-d") -> None:
    """The lock's time runs out (its count of tries expires)."""
    site.store.redis.delete(f"{PREFIX}code-tries:{TENANT}|{recipient}")


def lock_once(site: Site, recipient: str = "citizen-d") -> list[tuple[str, int]]:
    verdicts = wrong_codes(site, recipient, CODE_TRIES)
    fifteen_minutes_pass(site, recipient)
    return verdicts


def token_of(link: str) -> str:
    return link.split("/me/")[1].split("?")[0]


def test_wrong_codes_lock_three_times_then_the_code_is_shut_until_set_again(site: Site) -> None:
    site.recipients.set_code(TENANT, "citizen-d", "135790")
    first = lock_once(site)
    assert first == [("wrong", 4), ("wrong", 3), ("wrong", 2), ("wrong", 1), ("locked", 0)]
    assert lock_once(site)[-1] == ("locked", 0)
    assert lock_once(site)[-1] == ("shut", 0)
    # time passing no longer opens it: the right code is refused, and nothing is counted
    assert site.recipients.check_code(TENANT, "citizen-d", "135790") == ("shut", 0)
    site.recipients.set_code(TENANT, "citizen-d", "246802")  # an agent, at the person's request
    assert site.recipients.check_code(TENANT, "citizen-d", "246802") == ("ok", CODE_TRIES)


def test_wrong_codes_sent_together_are_slowed_too(site: Site) -> None:
    """Tries sent at once (a script, several tabs) do not each slip past the slowing: one is
    checked and counted, the others are refused as early, uncounted."""
    site.recipients.set_code(TENANT, "citizen-d", "135790")
    together = 4
    start = threading.Barrier(together)

    def wrong(_: int) -> tuple[str, int]:
        start.wait()
        return site.recipients.check_code(TENANT, "citizen-d", "000000")

    with ThreadPoolExecutor(together) as pool:
        verdicts = sorted(pool.map(wrong, range(together)))
    assert verdicts == [("early", 1)] * (together - 1) + [("wrong", CODE_TRIES - 1)]
    assert site.store.redis.get(f"{PREFIX}code-tries:{TENANT}|citizen-d") == "1"


def test_a_right_code_between_locks_starts_the_count_again(site: Site) -> None:
    site.recipients.set_code(TENANT, "citizen-d", "135790")
    for _ in range(CODE_LOCKOUTS - 1):
        lock_once(site)
    assert site.recipients.check_code(TENANT, "citizen-d", "135790")[0] == "ok"
    for _ in range(CODE_LOCKOUTS - 1):
        assert lock_once(site)[-1] == ("locked", 0)
    assert site.recipients.check_code(TENANT, "citizen-d", "135790")[0] == "ok"


def test_the_gate_says_the_limits_and_a_shut_code_sends_the_person_to_an_agent(
    site: Site,
) -> None:
    for lang, figures in {"fr": ["5 codes", "15 minutes", "3"], "en": ["5", "15", "3"]}.items():
        rules = TEXT[lang]["gate.rules"]
        assert all(f in rules for f in figures), rules
    limits = ("CODE_TRIES", "CODE_LOCK", "CODE_LOCKOUTS")
    assert [getattr(pages_codes, name, None) for name in limits] == [5, 15 * 60, 3]
    site.recipients.set_code(TENANT, "citizen-d", "135790")
    link = site.pages("citizen-d")
    assert "Après 5 codes faux de suite" in httpx.get(link).text
    for _ in range(CODE_LOCKOUTS):
        lock_once(site)
    form = {"csrf": csrf_token(site.config.secret(), token_of(link)), "lang": "fr"}
    right = httpx.post(f"{site.url}/me/{token_of(link)}/code", data=form | {"code": "135790"})
    assert right.status_code == 403 and "demandez un nouveau code" in right.text
    assert "espace" not in right.cookies


def test_new_codes_have_six_digits_and_an_older_short_one_still_opens(site: Site) -> None:
    link = site.pages("citizen-d")
    form = {"csrf": csrf_token(site.config.secret(), token_of(link)), "lang": "fr"}
    open_link = site.pages("citizen-1")
    short = httpx.post(
        f"{site.url}/me/{token_of(open_link)}/safety",
        data={"csrf": csrf_token(site.config.secret(), token_of(open_link)), "lang": "fr"}
        | {"discreet": "1", "code": "2468", "again": "2468"},
    )
    assert short.status_code == 303 and "error=format" in short.headers["location"]
    assert not site.recipients.has_code(TENANT, "citizen-1")
    assert "6 à 8 chiffres" in httpx.get(f"{site.url}{short.headers['location']}").text
    registered = httpx.put(
        f"{site.url}/v1/recipients/citizen-r",
        json={"id": "citizen-r", "contacts": {"email": "r@example.org"}},
        headers=AUTH,
    )
    assert registered.is_success
    refused = httpx.post(
        f"{site.url}/v1/recipients/citizen-r/code", json={"code": "2468"}, headers=AUTH
    )
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "code"]
    site.recipients.set_code(TENANT, "citizen-d", "2468")  # set before codes had six digits
    with httpx.Client() as client:
        opened = client.post(f"{site.url}/me/{token_of(link)}/code", data=form | {"code": "2468"})
        assert opened.status_code == 303
        assert "Mes choix" in client.get(link).text


def opened(site: Site, client: httpx.Client, link: str) -> None:
    """The person enters their code: ``client`` holds the session's cookie."""
    form = {"csrf": csrf_token(site.config.secret(), token_of(link)), "lang": "fr"}
    entered = client.post(f"{site.url}/me/{token_of(link)}/code", data=form | {"code": "135790"})
    assert entered.status_code == 303
    assert "Mes choix" in client.get(link).text


def test_quick_exit_ends_the_session_on_the_server(site: Site) -> None:
    site.recipients.set_code(TENANT, "citizen-d", "135790")
    link = site.pages("citizen-d")
    with httpx.Client() as client:
        opened(site, client, link)
        kept = dict(client.cookies)  # a copy of the cookie, as a watcher could keep it
        left = client.get(f"{site.url}/me/exit")
        assert left.status_code == 303 and left.headers["location"] == site.config.quick_exit_url
        assert left.headers["clear-site-data"] == CLEAR_SITE_DATA
        assert left.headers["cache-control"] == "no-store"
        assert (
            'espace=""' in left.headers["set-cookie"] and "Path=/me/" in left.headers["set-cookie"]
        )
    again = httpx.get(link, cookies=kept)
    assert "Saisissez votre code" in again.text and "Mes choix" not in again.text


def test_quick_exit_without_a_session_still_leaves(site: Site) -> None:
    left = httpx.get(f"{site.url}/me/exit")
    assert left.status_code == 303 and left.headers["location"] == site.config.quick_exit_url


def test_a_new_code_ends_every_session_the_old_one_opened(site: Site) -> None:
    registered = httpx.put(f"{site.url}/v1/recipients/citizen-d", json=DISCREET, headers=AUTH)
    assert registered.is_success
    site.recipients.set_code(TENANT, "citizen-d", "135790")
    link = site.pages("citizen-d")
    with httpx.Client() as phone, httpx.Client() as laptop:
        opened(site, phone, link)
        opened(site, laptop, link)
        reset = httpx.post(
            f"{site.url}/v1/recipients/citizen-d/code", json={"code": "864213"}, headers=AUTH
        )
        assert reset.is_success
        for browser in (phone, laptop):
            assert "Saisissez votre code" in browser.get(link).text


@pytest.mark.parametrize("how", ["click", "shift"])
def test_the_quick_exit_script_ends_the_session_too(site: Site, browser: Browser, how: str) -> None:
    site.recipients.set_code(TENANT, "citizen-d", "135790")
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(site.pages("citizen-d"))
        page.get_by_label("Code", exact=False).first.fill("135790")
        page.get_by_role("button", name="Continuer").click()
        page.wait_for_url("**/me/**")
        kept = {c["name"]: c["value"] for c in context.cookies()}
        assert "Mes choix" in page.inner_text("main")
        if how == "click":
            page.get_by_role("link", name="Quitter rapidement").click()
        else:
            for _ in range(3):
                page.keyboard.press("Shift")
        page.wait_for_url(site.config.quick_exit_url)
        assert "espace" not in {c["name"] for c in context.cookies()}
    finally:
        context.close()
    assert "Mes choix" not in httpx.get(site.pages("citizen-d"), cookies=kept).text


# --- unsubscribing: not behind the gate, and naming nothing -------------------------------

HIDDEN = ["gendarmerie", "notifications", "République", "••", "jeanne", "rendez-vous", "SMS"]
KIND = ["démarches", "procedures", "plainte", "complaint"]  # the category's own words


def unsubscribe_link(site: Site) -> str:
    grant = Grant("citizen-d", UNSUBSCRIBE, "procedure_news", "email", tenant=TENANT)
    return f"{site.url}/u/{site.links.token(grant)}"


def opted_out(site: Site) -> tuple[OptOut, ...]:
    return Choices.model_validate_json(
        site.recipients.fields(TENANT, "citizen-d")["choices"]
    ).opt_outs


def test_one_click_unsubscribe_works_for_a_person_with_discreet_messages(site: Site) -> None:
    answer = httpx.post(unsubscribe_link(site), data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200 and answer.text == ""
    assert opted_out(site) == (
        OptOut(category="procedure_news", channels=frozenset({Channel.EMAIL})),
    )


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_unsubscribe_pages_of_a_discreet_person_name_nothing(site: Site, lang: str) -> None:
    link = unsubscribe_link(site)
    asked = httpx.get(f"{link}?lang={lang}")
    token = link.split("/u/")[1]
    form = {"csrf": csrf_token(site.config.secret(), token), "lang": lang}
    done = httpx.post(link, data=form)
    for answer in (asked, done):
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "no-store"
        assert f"<title>{TEXT[lang]['gate.title']}</title>" in answer.text
        assert 'id="quick-exit"' in answer.text
        shown = answer.text.lower()
        assert [w for w in [*HIDDEN, *KIND] if w.lower() in shown] == []
    assert "e-mail" in done.text and len(opted_out(site)) == 1


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_neutral_unsubscribe_page_is_accessible_small_and_usable_with_the_keyboard(
    site: Site, browser: Browser, lang: str
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{unsubscribe_link(site)}?lang={lang}")
        assert page.locator("html").get_attribute("lang") == lang
        assert violations(page) == []
        page.set_viewport_size({"width": 320, "height": 800})
        assert overflows(page) == 0 and violations(page) == []
        for _ in range(10):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.type") == "submit":
                break
        else:
            pytest.fail("the button cannot be reached with Tab")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert TEXT[lang]["unsubscribe.neutral.done"].format(channel="e-mail") in page.inner_text(
            "main"
        )
        assert violations(page) == []
    finally:
        context.close()


@pytest.mark.parametrize(
    ("urls", "secure"),
    [
        pytest.param({"public_url": "https://notifications.example.gouv.fr"}, True, id="https"),
        pytest.param(
            {"public_url": None, "discreet_public_url": "https://mon-espace.example"},
            True,
            id="https-discreet-host",
        ),
        pytest.param({"public_url": None}, False, id="none-and-served-over-http"),
    ],
)
def test_the_session_cookie_is_secure_whenever_a_public_url_is_https(
    store: Store, urls: dict[str, str | None], secure: bool
) -> None:
    """Behind a TLS proxy the request may read as http (a proxy not in
    ``forwarded_allow_ips``): the cookie's ``Secure`` follows the public URLs, not it."""
    with serve_site(store, **urls) as site:
        site.post(id="booked-d", recipient=DISCREET)
        site.recipients.set_code(TENANT, "citizen-d", "135790")
        link = site.pages("citizen-d")
        form = {"csrf": csrf_token(site.config.secret(), token_of(link)), "lang": "fr"}
        entered = httpx.post(f"{site.url}/me/{token_of(link)}/code", data=form | {"code": "135790"})
        assert entered.status_code == 303
        assert ("; secure" in entered.headers["set-cookie"].lower()) is secure
