"""The scheduler: moves due messages from the schedule store to the delivery queue.

Each tick returns expired claim leases to the schedule, then claims a batch of due messages
(one Lua script: atomic, so any number of schedulers can run side by side) and enqueues one
Dramatiq message per claim, with no ``delay=``: the waiting happened in Redis, where a
reminder three weeks ahead costs a few hundred bytes and can still be cancelled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from notifier.delivery import utcnow
from notifier.store import UNAVAILABLE, Claimed, Store

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(
        self,
        store: Store,
        enqueue: Callable[[Claimed], None],
        *,
        batch_size: int = 500,
        lease: timedelta = timedelta(minutes=5),
        poll: timedelta = timedelta(milliseconds=200),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.enqueue = enqueue
        self.batch_size = batch_size
        self.lease = lease
        self.poll = poll
        self.clock = clock
        # Claimed but not yet enqueued (the broker failed mid-batch): enqueued first next time.
        # Their claims stay valid; if this process dies, their leases bring them back.
        self.backlog: list[Claimed] = []

    def tick(self) -> int:
        """Reap, claim and enqueue once; the number of messages enqueued."""
        now = self.clock()
        self.store.reap_expired(now)
        if not self.backlog:
            self.backlog = self.store.claim_due(now, limit=self.batch_size, lease=self.lease)
        count = 0
        while self.backlog:
            self.enqueue(self.backlog[0])
            self.backlog.pop(0)
            count += 1
        if count:
            log.info("enqueued %d due messages", count)
        return count

    def pause(self) -> float:
        """Seconds to wait before the next tick: until the next due message, at most ``poll``."""
        next_due = self.store.next_due()
        longest = self.poll.total_seconds()
        if next_due is None:
            return longest
        return max(0.0, min(longest, (next_due - self.clock()).total_seconds()))

    def run(self, stop: threading.Event) -> None:
        """Tick until ``stop`` is set; survive a lost Redis connection by waiting and retrying."""
        failures = 0
        while not stop.is_set():
            try:
                if self.tick() >= self.batch_size:
                    continue  # more may be due right now
                failures = 0
                stop.wait(self.pause())
            except UNAVAILABLE as exc:
                failures += 1
                wait = min(5.0, 0.2 * 2**failures)
                log.warning("redis unavailable (%s); retrying in %.1fs", exc, wait)
                stop.wait(wait)
