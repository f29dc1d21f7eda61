"""'What we sent you' shows the last 30 days: the list, and each message's own page alike
(the app on loopback over the test's Valkey, the real worker logic)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from notifier.channels.outbox import OutboxTransport
from notifier.models import Channel, MessageStatus
from notifier.store import Store
from notifier.web.history import HISTORY_DAYS
from tests.support.builders import NOW, Site, claim, deliverer, serve_site


@pytest.fixture
def site(store: Store) -> Iterator[Site]:
    with serve_site(store) as site:
        site.post(id="booked")  # its confirmation is due now, for citizen-1
        yield site


@pytest.mark.parametrize(
    ("days_ago", "shown"),
    [
        pytest.param(HISTORY_DAYS - 1, True, id="within"),
        pytest.param(HISTORY_DAYS + 1, False, id="past"),
    ],
)
def test_a_message_past_the_history_days_is_neither_listed_nor_shown_whole(
    site: Site, tmp_path: Path, days_ago: int, shown: bool
) -> None:
    (due,) = claim(site.store, NOW, limit=1)
    sent_then = NOW - timedelta(days=days_ago)
    worker = deliverer(site.store, dict.fromkeys(Channel, OutboxTransport(tmp_path)), at=sent_then)
    assert worker.deliver(due.message_id, due.claim) is MessageStatus.SENT
    listed = httpx.get(site.pages(path="/history"))
    whole = httpx.get(site.pages(path=f"/history/{due.message_id}"))
    assert listed.status_code == 200 and ("Brigade" in listed.text) is shown
    assert whole.status_code == (200 if shown else 404)
