"""Durable writes: the ones a guarantee rests on wait until replicas hold them (``WAIT``).

Replication is asynchronous: a write the primary acknowledged can vanish when a replica
takes over. So the accept script (an event's plan and its idempotency key, one atomic
step, replicated as one transaction), the provider-call mark before a call and the record
after it are each followed by ``WAIT``, and what depends on them waits for its answer.

``WAIT`` counts the replicas that hold everything the connection it is sent on wrote. It
is sent after a write to a key of its own (``fence``) on the same connection: replication
is one stream, so replicas that hold the fence hold every write before it, the script's
(whichever connection ran it) included, and also a script that wrote nothing this time
(a replay finding its work done, which must not be confirmed on an older write's
strength). One round trip more, only when replicas are required.

Not confirmed in time: :class:`~notifier.store.codec.NotReplicated`. The API answers 503
(the upstream retries; the same event id then finds its plan if it survived, or plans it
afresh if it was lost with it: the key and the plan are one write). A worker runs the
script again and waits again, for up to its patience: each script is safe to run again,
and running it again rewrites on a new primary what a failover lost.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import redis
import redis.asyncio

from notifier.store.codec import PREFIX, NotReplicated

T = TypeVar("T")
FENCE = f"{PREFIX}fence"


class Replication:
    """How many replicas must hold a durable write, how long to wait for them each time, and
    for how long in all to try again (``patience``, seconds; 0: fail at the first wait)."""

    def __init__(
        self, replicas: int = 0, wait: timedelta = timedelta(seconds=1), patience: float = 0.0
    ) -> None:
        self.replicas = replicas
        self.wait_ms = max(1, int(wait.total_seconds() * 1000))
        self.patience = patience

    def confirm(self, client: redis.Redis) -> None:
        """Raise :class:`NotReplicated` unless the replicas hold every write made so far."""
        if not self.replicas:
            return
        pipe = client.pipeline(transaction=False)
        pipe.set(FENCE, "1")
        pipe.execute_command("WAIT", self.replicas, self.wait_ms)
        self._check(pipe.execute())

    async def confirm_async(self, client: redis.asyncio.Redis) -> None:
        """:meth:`confirm` with redis-py's asyncio client."""
        if not self.replicas:
            return
        pipe = client.pipeline(transaction=False)
        pipe.set(FENCE, "1")
        pipe.execute_command("WAIT", self.replicas, self.wait_ms)
        self._check(await pipe.execute())

    def _check(self, replies: list[Any]) -> None:
        confirmed = int(replies[1])
        if confirmed < self.replicas:
            raise NotReplicated(confirmed, self.replicas, self.wait_ms / 1000)

    def durably(self, client: redis.Redis, write: Callable[[], T]) -> T:
        """``write()``, confirmed; its first answer (a second run may find its work done)."""
        result = write()
        deadline = time.monotonic() + self.patience
        while True:
            try:
                self.confirm(client)
                return result
            except NotReplicated:
                if time.monotonic() >= deadline:
                    raise
            write()  # on a new primary, rewrites what the failover lost

    async def durably_async(
        self, client: redis.asyncio.Redis, write: Callable[[], Awaitable[T]]
    ) -> T:
        """:meth:`durably` with redis-py's asyncio client."""
        result = await write()
        deadline = time.monotonic() + self.patience
        while True:
            try:
                await self.confirm_async(client)
                return result
            except NotReplicated:
                if time.monotonic() >= deadline:
                    raise
            await write()
