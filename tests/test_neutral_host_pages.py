"""A discreet message's link, on the neutral host, opens nothing without the code, even once
the person's discreet messages are off: the link stays in the watched phone's messages, and
the pages name the service (the API on loopback over the test's Valkey; the Host header says
which host the browser is on)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from notifier.links import host_of
from notifier.store import Store
from notifier.web.guard import csrf_token
from tests.support.builders import DISCREET, KEY, TENANT, Site, bearer, serve_site

NEUTRAL = "https://espace.example"  # names nothing
CODE = "135790"
NAMES_THE_SERVICE = "gendarmerie"


@pytest.fixture
def site(store: Store) -> Iterator[Site]:
    """``citizen-d`` had discreet messages and a code; then upstream turned them off."""
    with serve_site(store, discreet_public_url=NEUTRAL) as served:
        for safety in ({"discreet": True}, {"discreet": False}):
            put = httpx.put(
                f"{served.url}/v1/recipients/citizen-d",
                json=DISCREET | {"safety": safety},
                headers=bearer(KEY),
            )
            assert put.is_success, put.text
            if safety["discreet"]:
                served.recipients.set_code(TENANT, "citizen-d", CODE)
        yield served


def token(site: Site) -> str:
    return site.pages("citizen-d").split("/me/")[1].split("?")[0]


def on(site: Site, url: str | None) -> httpx.Client:
    """A browser on ``url``'s host (None: the service's own, where the API is served)."""
    headers = {"Host": host_of(url) or ""} if url else {}
    return httpx.Client(base_url=site.url, headers=headers)


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("", id="choices"),
        pytest.param("/history", id="history"),
        pytest.param("/safety", id="staying-safe"),
        pytest.param("/device", id="device"),
    ],
)
def test_the_neutral_host_asks_the_code_even_once_discreet_messages_are_off(
    site: Site, path: str
) -> None:
    with on(site, NEUTRAL) as browser:
        shown = browser.get(f"/me/{token(site)}{path}")
    assert shown.status_code == 200, shown.text
    assert 'name="code"' in shown.text  # the gate
    assert NAMES_THE_SERVICE not in shown.text.lower()


def test_on_the_service_s_host_the_pages_open_as_the_person_chose(site: Site) -> None:
    with on(site, None) as browser:
        shown = browser.get(f"/me/{token(site)}/history")
    assert shown.status_code == 200
    assert 'name="code"' not in shown.text


def test_the_code_opens_them_on_the_neutral_host(site: Site) -> None:
    link = token(site)  # each link made is another token, and the CSRF token is tied to it
    csrf = csrf_token(site.config.secret(), link)
    with on(site, NEUTRAL) as browser:
        opened = browser.post(f"/me/{link}/code", data={"code": CODE, "csrf": csrf})
        assert opened.status_code == 303, opened.text
        browser.headers["Cookie"] = f"espace={opened.cookies['espace']}"  # Secure: https URLs
        shown = browser.get(f"/me/{link}/history")
    assert shown.status_code == 200
    assert 'name="code"' not in shown.text
    assert NAMES_THE_SERVICE not in shown.text.lower()  # the neutral frame
