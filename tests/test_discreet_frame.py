"""After the code, a discreet person's pages still name nothing: the neutral frame on every
page they can reach (no service name, logo, tagline or favicon naming it; a footer with only
the accessibility statement, in its neutral wording). Debian's chromium, axe-core, the API on
loopback over the test's Valkey."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from notifier.links import UNSUBSCRIBE, Grant
from notifier.store import Store
from tests.support.browser import violations
from tests.support.builders import PAGE_PATHS, TENANT, Site, deliver_next, safe_site
from tests.test_safety import DENY  # what a discreet message must never say

# the service's name and the State's brand, beside what its messages must not say
BRAND = ["Mes notifications", "My notifications", "République", "favicon"]
PATHS = PAGE_PATHS | {"safety": "/safety"}


@pytest.fixture
def site(store: Store, tmp_path: Path) -> Iterator[Site]:
    with safe_site(store) as served:
        served.recipients.set_code(TENANT, "citizen-d", "135790")
        deliver_next(served, tmp_path)  # the history has a message to show
        yield served


def inside(site: Site, page: Page) -> None:
    """The person enters their code."""
    page.goto(site.pages("citizen-d"))
    page.get_by_label("Code", exact=False).first.fill("135790")
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url("**/me/**")


def revealed(html: str) -> list[str]:
    shown = html.lower()
    return [word for word in [*DENY, *BRAND] if word.lower() in shown]


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_page_of_a_discreet_person_past_the_code_names_nothing(
    site: Site, page: Page, lang: str
) -> None:
    inside(site, page)
    for name, path in PATHS.items():
        answer = page.goto(site.pages("citizen-d", path=path, lang=lang))
        assert answer is not None and answer.status == 200, name
        assert "Saisissez votre code" not in page.inner_text("main"), name  # inside
        assert page.title() == ("Mon espace" if lang == "fr" else "My space"), name
        assert revealed(page.content()) == [], name
        assert page.locator("header, .fr-logo").count() == 0, name
        icons = page.locator("link[rel=icon]")
        assert icons.count() == 1 and "dsfr" not in str(icons.get_attribute("href")), name
        assert violations(page) == [], name
    footer = page.locator("footer a")
    assert footer.count() == 1  # the accessibility statement only: no legal links
    footer.click()
    page.wait_for_url("**/me/accessibilite**")
    assert revealed(page.content()) == []
    assert "non conforme" in page.inner_text("main") or "not compliant" in page.inner_text("main")
    assert violations(page) == []


def test_the_unsubscribe_page_of_a_discreet_person_names_nothing(site: Site, page: Page) -> None:
    grant = Grant("citizen-d", UNSUBSCRIBE, "procedure_news", "email", tenant=TENANT)
    page.goto(f"{site.url}/u/{site.links.token(grant)}")
    assert page.title() == "Mon espace"
    assert revealed(page.content()) == [] and violations(page) == []


def test_a_person_without_discreet_messages_keeps_the_service_frame(site: Site, page: Page) -> None:
    page.goto(site.pages("citizen-1"))
    assert page.locator("header .fr-logo").count() == 1
    assert "Mes notifications" in page.title()
    assert page.locator("footer a").count() == 3


def test_a_discreet_person_s_choices_save_under_their_neutral_names(site: Site, page: Page) -> None:
    inside(site, page)
    page.goto(site.pages("citizen-d"))
    news = page.get_by_role("group", name="Informations facultatives 1")
    news.get_by_label("E-mail").uncheck(force=True)
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_url("**saved=1**")
    fields = site.recipients.fields(TENANT, "citizen-d")
    assert '"category":"procedure_news"' in fields["choices"].replace(" ", "")
    assert '"email"' in fields["choices"]
