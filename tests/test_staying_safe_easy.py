""" "Staying safe" in easy-to-read wording, whole, for a person who asked for it: in Chromium
with axe-core, French and English, at 320 px, with the keyboard alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from notifier.store import Store
from notifier.store.safety_decisions import decision_in
from notifier.web.safety_text import EASY, SAFETY
from tests.support.browser import overflows, violations
from tests.support.builders import Site, safe_site, screenshots

EASY_READER = {
    "id": "citizen-e",
    "locale": "fr",
    "timezone": "Europe/Paris",
    "contacts": {"phone": "+33612345679", "email": "easy.reader@example.org"},
    "needs": ["easy_read"],
}


@pytest.fixture
def site(store: Store) -> Iterator[Site]:
    with safe_site(store) as served:
        served.post(id="booked-e", recipient=EASY_READER, subject="appointment:BRG-75-00044")
        yield served


ONLY_SOMETIMES = ("safety.error", "safety.stale", "safety.send_missed")
ALWAYS = [k for k in EASY["fr"] if k not in ONLY_SOMETIMES]  # shown


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_staying_safe_is_all_in_easy_words_for_who_asked(site: Site, page: Page, lang: str) -> None:
    page.goto(site.pages("citizen-e", path="/safety", lang=lang))
    shown = flat(page.inner_text("main"))
    missing = [
        key for key, words in EASY[lang].items() if key in ALWAYS and flat(words) not in shown
    ]
    assert missing == []
    standard = [
        k
        for k in ALWAYS
        if flat(SAFETY[lang][k]) in shown and flat(SAFETY[lang][k]) not in flat(EASY[lang][k])
    ]
    assert standard == []  # never the standard wording beside it
    assert "17" in shown and "114" in shown and "3919" in shown
    assert violations(page) == []
    if lang == "fr":
        screenshots(page, "safety-easy", (375,))
    page.set_viewport_size({"width": 320, "height": 800})
    assert overflows(page) == 0 and violations(page) == []


def test_the_easy_page_works_with_the_keyboard_alone(site: Site, page: Page) -> None:
    page.goto(site.pages("citizen-e", path="/safety"))
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "safety-paused":
            break
    else:
        pytest.fail("the pause cannot be reached with Tab")
    page.keyboard.press("Space")
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.type") == "submit":
            break
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.split("?")[1].startswith("saved=1")
    decided = decision_in(site.recipients.fields("crm", "citizen-e"))
    assert decided is not None and decided.safety.paused and decided.by == "person"
    # saving kept the person's needs: the page after it is still in easy words
    shown = flat(page.inner_text("main"))
    assert [k for k in ALWAYS if flat(EASY["fr"][k]) not in shown] == []


def test_without_the_need_the_page_keeps_its_standard_words(site: Site, page: Page) -> None:
    page.goto(site.pages("citizen-1", path="/safety"))
    shown = flat(page.inner_text("main"))
    assert flat(SAFETY["fr"]["safety.intro"]) in shown
    assert flat(EASY["fr"]["safety.intro"]) not in shown
