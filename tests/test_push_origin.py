"""A browser's notifications show the site it subscribed on, on a lock screen too: for a
person with discreet messages, push goes only to a subscription made on the pages' neutral
host (NOTIFIER_DISCREET_PUBLIC_URL). The API on loopback over the test's Valkey, the page's
own subscribe route (the Host header says which host the browser was on), the worker's
logic; the decision alone as a table."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
import pytest

from notifier.channels.base import Outcome, SendResult
from notifier.delivery.decisions import SHOWS_ITS_SITE, shows_its_site
from notifier.links import Links, host_of
from notifier.models import Channel, MessageStatus
from notifier.store import Store
from notifier.web.gate import COOKIE
from notifier.web.guard import csrf_token
from tests.support.builders import (
    DISCREET,
    KEY,
    NOW,
    TENANT,
    ScriptedTransport,
    Site,
    bearer,
    deliver_all,
    deliverer,
    serve_site,
)

NEUTRAL = "https://espace.example"  # names nothing
PUBLIC = "https://notifications.example.gouv.fr"  # the service's own (settings' public_url)
SUBSCRIPTION = {
    "endpoint": "https://fcm.googleapis.com/fcm/send/phone-1",
    "keys": {"p256dh": "B" * 87, "auth": "A" * 22},
}


@pytest.mark.parametrize(
    ("channel", "origin", "neutral_host", "expected"),
    [
        pytest.param(Channel.WEBPUSH, "espace.example", "espace.example", None, id="neutral-host"),
        pytest.param(
            Channel.WEBPUSH,
            "notifications.example.gouv.fr",
            "espace.example",
            SHOWS_ITS_SITE,
            id="service-host",
        ),
        pytest.param(Channel.WEBPUSH, None, "espace.example", SHOWS_ITS_SITE, id="origin-unknown"),
        pytest.param(Channel.WEBPUSH, "espace.example", None, SHOWS_ITS_SITE, id="no-neutral-host"),
        pytest.param(Channel.SMS, None, None, None, id="not-push"),
    ],
)
def test_shows_its_site(
    channel: Channel, origin: str | None, neutral_host: str | None, expected: str | None
) -> None:
    assert shows_its_site(channel, origin, neutral_host) == expected


@pytest.fixture
def site(store: Store) -> Iterator[Site]:
    with serve_site(store, discreet_public_url=NEUTRAL) as served:
        assert served.config.public_url == PUBLIC
        put = httpx.put(f"{served.url}/v1/recipients/citizen-d", json=DISCREET, headers=bearer(KEY))
        assert put.is_success, put.text
        served.recipients.set_code(TENANT, "citizen-d", "135790")
        yield served


@contextmanager
def inside_on(site: Site, url: str) -> Iterator[httpx.Client]:
    """A browser on ``url``'s host, inside the person's pages (their code entered)."""
    with httpx.Client(base_url=site.url, headers={"Host": host_of(url) or ""}) as browser:
        form = {"code": "135790", "csrf": csrf(site)}
        opened = browser.post(f"/me/{token(site)}/code", data=form)
        assert opened.status_code == 303, opened.text
        # the cookie is Secure (the public URL is https): sent as a browser there would
        browser.headers["Cookie"] = f"{COOKIE}={opened.cookies[COOKIE]}"
        yield browser


@functools.cache
def token(site: Site) -> str:
    """The person's link, one per site: each link made is another token (sealed with a
    fresh nonce), and the forms' CSRF token is tied to the link's."""
    return site.pages("citizen-d").split("/me/")[1].split("?")[0]


def csrf(site: Site) -> str:
    return csrf_token(site.config.secret(), token(site))


def subscribe_on(site: Site, url: str) -> None:
    """The person, inside their pages on ``url``'s host, turns push on for this browser."""
    with inside_on(site, url) as browser:
        added = browser.post(
            f"/me/{token(site)}/push", json=SUBSCRIPTION, headers={"X-CSRF-Token": csrf(site)}
        )
        assert added.status_code == 201, added.text


def deliver_the_test_push(site: Site) -> tuple[MessageStatus | None, str, list[object]]:
    push = ScriptedTransport(SendResult(Outcome.SENT, reference="p-1"))
    links = Links(site.config.secret(), PUBLIC, ttl=timedelta(days=30), discreet_url=NEUTRAL)
    worker = deliverer(
        site.store, {Channel.WEBPUSH: push}, at=NOW, recipients=site.recipients, links=links
    )
    ((message_id, status),) = deliver_all(worker, NOW).items()
    record = site.store.get(message_id)
    assert record is not None and record.message.rule == "push-test"
    return status, "\n".join(str(h.detail) for h in record.history), list(push.sent)


def test_a_subscription_made_on_the_service_s_host_gets_no_discreet_push(site: Site) -> None:
    subscribe_on(site, PUBLIC)
    status, history, sent = deliver_the_test_push(site)
    assert sent == [] and status is not MessageStatus.SENT
    assert f"skipped: {SHOWS_ITS_SITE}" in history
    assert "gouv" not in history and "notifications.example" not in history  # neutral words


def test_a_subscription_made_on_the_neutral_host_gets_the_discreet_push(site: Site) -> None:
    subscribe_on(site, NEUTRAL)
    status, _, sent = deliver_the_test_push(site)
    assert status is MessageStatus.SENT and len(sent) == 1


@pytest.mark.parametrize(
    ("url", "offered"), [(PUBLIC, False), (NEUTRAL, True)], ids=["service-host", "neutral-host"]
)
def test_the_device_page_offers_push_only_where_it_would_be_sent(
    site: Site, url: str, offered: bool
) -> None:
    with inside_on(site, url) as browser:
        shown = browser.get(f"/me/{token(site)}/device").text
    assert ('id="push-on"' in shown) is offered
    assert ("ne sont pas proposées à cette adresse" in shown) is not offered
