"""The scheduler: moves due messages from the schedule store to the delivery queue.

Each tick returns expired claim leases to the schedule, then claims a batch of due messages
(one Lua script: atomic, so any number of schedulers can run side by side) and enqueues them
as Dramatiq messages carrying a batch of claims each (delivered concurrently by a worker),
all in one round trip, with no ``delay=``: the
waiting happened in Redis, where a reminder three weeks ahead costs a few hundred bytes and
can still be cancelled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from notifier.metrics import SchedulerMetrics
from notifier.runtime.clock import utcnow
from notifier.store import UNAVAILABLE, Claimed, Store

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(
        self,
        store: Store,
        enqueue: Callable[[list[Claimed]], None],
        *,
        batch_size: int = 500,
        lease: timedelta = timedelta(minutes=5),
        poll: timedelta = timedelta(milliseconds=200),
        gather: timedelta = timedelta(milliseconds=50),
        clock: Callable[[], datetime] = utcnow,
        metrics: SchedulerMetrics | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.enqueue = enqueue
        self.batch_size = batch_size
        self.lease = lease
        self.poll = poll
        self.gather = gather
        self.clock = clock
        # Claimed, but the broker failed while taking them: released (re-claimed with a new
        # token, so a copy the broker did take is stale) as soon as Redis answers again.
        # If this process dies first, their leases bring them back.
        self.unsent: list[Claimed] = []

    def tick(self) -> int:
        """Reap, claim and enqueue once; the number of messages enqueued."""
        now = self.clock()
        if self.unsent:
            self.store.release(self.unsent, now)
            self.unsent = []
        self.store.reap_expired(now)
        claimed = self.store.claim_due(now, limit=self.batch_size, lease=self.lease)
        if claimed:
            try:
                self.enqueue(claimed)
                # replicas hold the claims and the broker's messages (one replication
                # stream), or they get new claims: a copy that survives a failover is stale
                self.store.replication.confirm(self.store.redis)
            except Exception:
                self.unsent = claimed  # the broker may have taken some: all get new claims
                raise
        if claimed:
            log.info("enqueued %d due messages", len(claimed))
        if self.metrics is not None:
            self.metrics.enqueued.inc(len(claimed))
            self.metrics.last_tick.set(now.timestamp())
        return len(claimed)

    def pause(self) -> float:
        """Seconds to wait before the next tick: until the next due message, at most ``poll``.

        At least ``gather``: messages falling due one after the other leave together, in
        batches that a worker sends concurrently, rather than one tick (and one small
        batch) each.
        """
        next_due = self.store.next_due()
        longest = self.poll.total_seconds()
        if next_due is None:
            return longest
        until = (next_due - self.clock()).total_seconds()
        return max(self.gather.total_seconds(), min(longest, until))

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
                if self.metrics is not None:
                    self.metrics.redis_errors.inc()
                wait = min(5.0, 0.2 * 2**failures)
                log.warning("redis unavailable (%s); retrying in %.1fs", exc, wait)
                stop.wait(wait)
