"""The citizens' links: sealed, expiring, one purpose each, naming no one."""

from __future__ import annotations

import base64
import time
from datetime import timedelta

import pytest

from notifier.links import PAGES, UNSUBSCRIBE, Grant, LinkError, Links

SECRET = b"k" * 32
TENANT, PERSON = "brigade-paris-7", "PLAINTE-2026-118"
PAGES_GRANT = Grant(PERSON, PAGES, tenant=TENANT)
UNSUBSCRIBE_GRANT = Grant(PERSON, UNSUBSCRIBE, "procedure_news", "email", tenant=TENANT)


def links(age: timedelta = timedelta(0), secret: bytes = SECRET) -> Links:
    return Links(
        secret,
        "https://rdv.gendarmerie.example",
        ttl=timedelta(days=30),
        discreet_url="https://mon-espace.example",
        clock=lambda: time.time() - age.total_seconds(),
    )


@pytest.mark.parametrize(
    "grant", [pytest.param(PAGES_GRANT, id="pages"), pytest.param(UNSUBSCRIBE_GRANT, id="unsub")]
)
def test_a_token_grants_what_it_was_made_for(grant: Grant) -> None:
    assert links().read(links().token(grant), grant.purpose) == grant


def test_a_link_names_neither_the_tenant_nor_the_person() -> None:
    """Whoever holds a watched phone reads the link: the token is sealed, not only signed."""
    url = links().pages(TENANT, PERSON, discreet=True)
    assert url is not None and url.startswith("https://mon-espace.example/me/")
    token = url.rsplit("/", 1)[1]
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    for secret in (TENANT, PERSON, "brigade", PAGES):
        assert secret.encode() not in raw and secret not in token
    # an SMS carries it: a 12-byte nonce, a 4-byte date, the fields, a 16-byte tag (the
    # signed JSON it replaced was 113 characters for these names)
    assert len(token) <= 104


@pytest.mark.parametrize(
    ("token", "purpose", "expired"),
    [
        pytest.param(links().token(PAGES_GRANT), UNSUBSCRIBE, False, id="another-purpose"),
        pytest.param(links().token(UNSUBSCRIBE_GRANT), PAGES, False, id="unsub-opens-no-pages"),
        pytest.param(links(secret=b"o" * 32).token(PAGES_GRANT), PAGES, False, id="other-key"),
        pytest.param(links().token(PAGES_GRANT)[:-2], PAGES, False, id="cut-short"),
        pytest.param("x" + links().token(PAGES_GRANT)[1:], PAGES, False, id="altered"),
        pytest.param("not a token!", PAGES, False, id="garbage"),
        pytest.param("", PAGES, False, id="empty"),
        pytest.param(links(timedelta(days=31)).token(PAGES_GRANT), PAGES, True, id="pages-31-d"),
        pytest.param(
            links(timedelta(days=366)).token(UNSUBSCRIBE_GRANT), UNSUBSCRIBE, True, id="unsub-1y"
        ),
    ],
)
def test_a_token_refused(token: str, purpose: str, expired: bool) -> None:
    with pytest.raises(LinkError) as refused:
        links().read(token, purpose)
    assert refused.value.expired is expired


@pytest.mark.parametrize(
    ("age", "purpose", "grant"),
    [
        pytest.param(timedelta(days=29), PAGES, PAGES_GRANT, id="pages-29-days"),
        pytest.param(timedelta(days=300), UNSUBSCRIBE, UNSUBSCRIBE_GRANT, id="unsub-300-days"),
    ],
)
def test_a_token_within_its_life(age: timedelta, purpose: str, grant: Grant) -> None:
    assert links().read(links(age).token(grant), purpose) == grant
