"""The accept step from an event loop: ``POST /v1/events`` without a thread.

FastAPI runs a plain ``def`` route on its thread pool: a hand-off each way (a futex wake,
the GIL passed between threads) that was about 40 % of a minimal request's CPU on two cores
(bench/README.md, "Eleventh session"), more than validating and planning an event. The
single event's route is ``async`` and sends the same accept script with redis-py's asyncio
client: the same arguments (:class:`~notifier.store.arguments.PlanArguments`), the same
reply (:func:`~notifier.store.codec.decode_answer`), the same durability
(:mod:`notifier.store.durable`). Everything else keeps the synchronous client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from notifier.rules.plans import Plan
from notifier.store.codec import Accepted, decode_answer, idem_key
from notifier.store.scripts import source

if TYPE_CHECKING:
    from notifier.store.store import Store

Connect = Callable[[], redis.asyncio.Redis]
# Accepts in flight at once, each on its own connection; more wait their turn, as they
# waited for one of the thread pool's 40 threads before (a burst opens no more connections)
IN_FLIGHT = 64

# As the API's synchronous client (Store.from_url, connections.engine_client): an outage is
# a 503 at once, never a wait.
OPTIONS: dict[str, Any] = {
    "decode_responses": True,
    "health_check_interval": 30,
    "socket_timeout": 10,
    "retry": Retry(NoBackoff(), 0),
}


def from_url(url: str) -> Connect:
    return lambda: redis.asyncio.Redis.from_url(url, **OPTIONS)


class LoopAccept:
    """:meth:`Store.accept` for a caller on an event loop."""

    def __init__(self, store: Store, connect: Connect) -> None:
        self.store = store
        self.connect = connect
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: redis.asyncio.Redis | None = None
        self._script: Any = None
        self._turns: asyncio.Semaphore | None = None

    async def accept(
        self, idempotency_key: str, plan: Plan, now: datetime, *, ttl: int
    ) -> Accepted:
        client, script, turns = self._of_this_loop()
        keys, args = [idem_key(idempotency_key)], self.store.arguments.accept(plan, now, ttl)
        async with turns:
            reply = await self.store.replication.durably_async(
                client, lambda: script(keys=keys, args=args)
            )
        return decode_answer(reply, plan)

    async def close(self) -> None:
        """Close the running loop's client (the server's lifespan ends)."""
        if self._client is not None and self._loop is asyncio.get_running_loop():
            await self._client.aclose()
        self._client = self._loop = None

    def _of_this_loop(self) -> tuple[redis.asyncio.Redis, Any, asyncio.Semaphore]:
        """The running loop's client: an asyncio connection belongs to the loop that made
        it (a test's next server runs on a new loop)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._turns is None or self._loop is not loop:
            self._client = self.connect()
            self._script = self._client.register_script(source("accept"))
            self._turns = asyncio.Semaphore(IN_FLIGHT)
            self._loop = loop
        return self._client, self._script, self._turns
