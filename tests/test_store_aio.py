"""The accept step from an event loop (notifier.store.aio) against a real Valkey: the same
answers as the synchronous store, a bounded number of connections, a client per loop."""

from __future__ import annotations

import asyncio

import redis

from notifier.rules.engine import plan
from notifier.store import Accepted, Store, aio
from notifier.store.aio import IN_FLIGHT, LoopAccept
from tests.support.builders import NOW, RULES, make_event


def loop_accept(store: Store, redis_url: str) -> LoopAccept:
    return LoopAccept(store, aio.from_url(redis_url))


def test_answers_as_the_store_does(store: Store, redis_url: str) -> None:
    accepting = loop_accept(store, redis_url)
    first, second = make_event(id="evt-1"), make_event(id="evt-2", subject="appointment:B-2")

    async def both() -> tuple[Accepted, Accepted]:
        fresh = await accepting.accept("crm:evt-1", plan(first, RULES, NOW), NOW, ttl=60)
        again = await accepting.accept("crm:evt-1", plan(first, RULES, NOW), NOW, ttl=60)
        await accepting.close()
        return fresh, again

    fresh, again = asyncio.run(both())
    synchronous = store.accept("crm:evt-2", plan(second, RULES, NOW), NOW, ttl=60)
    replayed = store.accept("crm:evt-1", plan(first, RULES, NOW), NOW, ttl=60)
    assert not fresh.duplicate and again.duplicate and replayed.duplicate
    assert fresh.planned == again.planned == replayed.planned
    assert len(synchronous.planned) == len(fresh.planned) == 2
    assert store.pending_count() == 4


def test_a_burst_opens_at_most_so_many_connections(store: Store, redis_url: str) -> None:
    accepting = loop_accept(store, redis_url)
    events = [make_event(id=f"evt-{n}", subject=f"appointment:A-{n}") for n in range(3 * IN_FLIGHT)]
    with redis.Redis.from_url(redis_url) as probe:
        before = int(probe.info("clients")["connected_clients"])

        async def burst() -> int:
            done = await asyncio.gather(
                *(accepting.accept(f"crm:{e.id}", plan(e, RULES, NOW), NOW, ttl=60) for e in events)
            )
            opened = int(probe.info("clients")["connected_clients"]) - before
            await accepting.close()
            assert all(not d.duplicate for d in done)
            return opened

        opened = asyncio.run(burst())
    assert 0 < opened <= IN_FLIGHT
    assert store.pending_count() == 2 * len(events)


def test_each_event_loop_gets_its_own_client(store: Store, redis_url: str) -> None:
    """A test's next server, or a restarted one, runs on a new loop: connections made on the
    old one cannot serve it."""
    accepting = loop_accept(store, redis_url)
    for n in range(3):
        event = make_event(id=f"evt-{n}", subject=f"appointment:A-{n}")
        answer = asyncio.run(
            accepting.accept(f"crm:{event.id}", plan(event, RULES, NOW), NOW, ttl=60)
        )
        assert not answer.duplicate
    assert store.pending_count() == 6
