"""Per-channel send rate limits shared by every worker process, through Redis.

Providers cap throughput (Twilio: a number of messages per second per sender). The limit
is a window of one second counted in Redis with Dramatiq's ``WindowRateLimiter``, so ten
worker processes on three machines together stay under it. A worker over the limit waits
for a slot, briefly; it does not fail the message or spend one of its retries.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
from dramatiq.rate_limits import WindowRateLimiter
from dramatiq.rate_limits.backends import RedisBackend

from notifier.models import Channel


class ChannelRateLimit:
    def __init__(
        self,
        backend: RedisBackend,
        channel: Channel,
        per_second: int,
        *,
        max_wait: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limiter = WindowRateLimiter(
            backend, f"notifier:rate:{channel.value}", limit=per_second, window=1
        )
        self.max_wait = max_wait
        self.sleep = sleep

    def wait(self) -> bool:
        """Block until a send is allowed; False if none came within ``max_wait`` seconds."""
        deadline = time.monotonic() + self.max_wait
        while True:
            with self.limiter.acquire(raise_on_failure=False) as acquired:
                if acquired:
                    return True
            if time.monotonic() >= deadline:
                return False
            self.sleep(0.02)


def rate_limits(
    client: redis.Redis, *, per_second: dict[Channel, int]
) -> dict[Channel, ChannelRateLimit]:
    """The limits of the channels that have one (0 means unlimited), counted on ``client``
    (:func:`notifier.store.connections.rate_limit_client`)."""
    backend = RedisBackend(client=client)
    return {
        channel: ChannelRateLimit(backend, channel, limit)
        for channel, limit in per_second.items()
        if limit > 0
    }
