"""A code the person's abuser would try first (one digit repeated, a run, a birthday) is
refused wherever a code is chosen: on Staying safe, through the API, in the console. The
gate allows 15 tries before the code is shut; these take far fewer. The decision alone as a
table; the surfaces over HTTP (the API on loopback over the test's Valkey)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from notifier.store import Store
from notifier.store.pages_codes import guessable
from notifier.web.guard import csrf_token
from tests.support.builders import KEY, TENANT, Console, Site, bearer, safe_site


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        pytest.param("000000", True, id="one-digit-repeated"),
        pytest.param("123456", True, id="run-up"),
        pytest.param("87654321", True, id="run-down"),
        pytest.param("150890", True, id="ddmmyy"),
        pytest.param("290283", True, id="ddmmyy-29-february"),
        pytest.param("15081990", True, id="ddmmyyyy"),
        pytest.param("19900815", True, id="yyyymmdd"),
        pytest.param("135790", False, id="odd-digits"),
        pytest.param("300283", False, id="not-a-date-30-february"),
        pytest.param("24681357", False, id="no-pattern-8"),
        pytest.param("975310", False, id="uneven-steps"),
    ],
)
def test_guessable(code: str, expected: bool) -> None:
    assert guessable(code) is expected


@pytest.fixture
def site(store: Store) -> Iterator[Site]:
    with safe_site(store) as served:
        yield served


def test_the_page_refuses_a_guessable_code_as_discreet_messages_are_turned_on(site: Site) -> None:
    token = site.pages("citizen-1").split("/me/")[1].split("?")[0]
    with httpx.Client(base_url=site.url) as browser:
        shown = browser.get(f"/me/{token}/safety").text
        seen = re.search(r'name="seen" value="([0-9a-f]+)"', shown)
        assert seen is not None
        form = {
            "csrf": csrf_token(site.config.secret(), token),
            "seen": seen.group(1),
            "discreet": "on",
            "code": "15081990",
            "again": "15081990",
        }
        saved = browser.post(f"/me/{token}/safety", data=form)
    assert saved.status_code == 303
    assert "error=guessable" in saved.headers["location"]
    assert not site.recipients.has_code(TENANT, "citizen-1")
    who = site.recipients.known(TENANT, "citizen-1")
    assert who is not None and not who.safe.discreet


def test_the_api_refuses_a_guessable_code_naming_the_field(site: Site) -> None:
    answer = httpx.post(
        f"{site.url}/v1/recipients/citizen-1/code", json={"code": "123456"}, headers=bearer(KEY)
    )
    assert answer.status_code == 422
    (error,) = answer.json()["detail"]
    assert error["loc"] == ["body", "code"]
    assert "123456" not in answer.text  # never echoed
    assert not site.recipients.has_code(TENANT, "citizen-1")


def test_the_console_refuses_a_guessable_code(console: Console) -> None:
    (booked, *_) = console.post(id="booked-g")
    login = httpx.post(f"{console.url}/ops/login", data={"key": console.agent_key})
    cookies = {"notifier_ops": login.cookies["notifier_ops"]}
    overview = httpx.get(f"{console.url}/ops/", cookies=cookies).text
    token = re.search(r'name="token" value="([0-9a-f]+)"', overview)
    assert token is not None
    done = httpx.post(
        f"{console.url}/ops/messages/{booked}/person/code",
        data={"token": token.group(1), "reason": "à sa demande", "code": "000000"},
        cookies=cookies,
    )
    assert done.status_code == 303
    assert done.headers["location"].endswith("done=guessable")
    assert not console.recipients.has_code(TENANT, "citizen-1")
