"""Channel rate limits shared through Redis: two workers together stay under the limit."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from dramatiq.rate_limits.backends import RedisBackend

from notifier.channels.base import Outcome, OutgoingMessage, SendResult
from notifier.delivery.ratelimit import ChannelRateLimit
from notifier.models import Channel, MessageStatus
from notifier.rules.engine import plan
from notifier.store import Store
from tests.support.builders import claim, deliverer, make_event, rules_from

RULES = rules_from(
    """
rules:
  - {id: news, trigger: [x.y], template: procedure_status, channels: [sms],
     replace_pending: false, quiet_hours: "off"}
"""
)


class TimedTransport:
    timeout = 0.0

    def __init__(self) -> None:
        self.times: list[float] = []
        self.lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> SendResult:
        with self.lock:
            self.times.append(time.time())
        return SendResult(Outcome.SENT)


def test_two_workers_share_the_limit(store: Store, redis_url: str) -> None:
    now = datetime.now(UTC)
    for n in range(24):
        event = make_event(
            id=f"r{n}",
            type="x.y",
            recipient={"id": f"c{n}", "contacts": {"phone": "+33612345678"}},
            data={"reference": "R", "status_label": "S"},
        )
        store.accept(f"c:r{n}", plan(event, RULES, now), now, ttl=60)
    claimed = claim(store, now, limit=100)
    assert len(claimed) == 24
    transport = TimedTransport()
    windows: list[str] = []  # the limiter window each granted send was counted in

    def worker(items: list) -> None:  # type: ignore[type-arg]
        backend = RedisBackend(url=redis_url)
        incr_and_sum = backend.incr_and_sum

        def counted(key: str, *args: object, **kwargs: object) -> bool:
            # the key whose counter a grant raised: the limiter reads the window's keys
            # again inside, and at a second's boundary they name the next second already
            granted: bool = incr_and_sum(key, *args, **kwargs)
            if granted:
                windows.append(key)
            return granted

        backend.incr_and_sum = counted  # type: ignore[method-assign]
        limit = ChannelRateLimit(backend, Channel.SMS, 8)
        limited = deliverer(
            store, {Channel.SMS: transport}, at=None, rate_limits={Channel.SMS: limit}
        )
        for item in items:
            assert limited.deliver(item.message_id, item.claim) is MessageStatus.SENT

    threads = [threading.Thread(target=worker, args=(claimed[i::2],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(transport.times) == 24 == len(windows)
    # counted per window as the limiter counts (a send granted at the end of one second may
    # reach the transport in the next: send times would blur the windows)
    per_window = {w: windows.count(w) for w in set(windows)}
    assert max(per_window.values()) <= 8, per_window
    assert len(per_window) >= 3  # 24 sends at 8 per second need at least three windows
    assert max(transport.times) - min(transport.times) > 1  # three windows span over 1 s


def test_waiting_too_long_reschedules_without_spending_an_attempt(
    store: Store, redis_url: str
) -> None:
    now = datetime.now(UTC)
    event = make_event(type="x.y", data={"reference": "R", "status_label": "S"})
    store.accept("c:1", plan(event, RULES, now), now, ttl=60)
    (claimed,) = claim(store, now, limit=1)
    full = ChannelRateLimit(RedisBackend(url=redis_url), Channel.SMS, 1, max_wait=0.0)
    # built first: loading the templates took 1.5 s on a loaded machine, past the second below
    limited = deliverer(
        store, {Channel.SMS: TimedTransport()}, at=None, rate_limits={Channel.SMS: full}
    )
    time.sleep(1.02 - time.time() % 1)  # start of a second: the window will not turn meanwhile
    assert full.wait()  # takes the only slot of this second
    assert limited.deliver(claimed.message_id, claimed.claim) is MessageStatus.SCHEDULED
    record = store.get(claimed.message_id)
    assert record is not None and record.attempts == 0
    assert "rate limit" in (record.history[-1].detail or "")
