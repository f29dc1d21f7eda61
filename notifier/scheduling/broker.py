"""The Dramatiq broker: Redis, in its own logical database, shared by scheduler and workers."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any
from uuid import uuid4

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis

from notifier.delivery.pool import batches
from notifier.runtime.settings import Settings
from notifier.store import Claimed
from notifier.store.connections import broker_client

DELIVERY_QUEUE = "deliveries"
DELIVERY_ACTOR = "deliver_batch"


def configure_broker(settings: Settings) -> RedisBroker:
    """Create the broker and make it Dramatiq's global one (actors bind to it on declaration)."""
    broker = RedisBroker(
        client=broker_client(settings),
        heartbeat_timeout=settings.broker_heartbeat_timeout_ms,
        maintenance_chance=settings.broker_maintenance_chance,
    )
    dramatiq.set_broker(broker)
    return broker


class Stopping(dramatiq.Middleware):
    """``event`` is set while the worker shuts down, for the deliveries under way to see.

    A delivery waiting for another attempt's provider call to end (up to three call
    windows, a minute with the default provider timeout) then leaves the message to its
    next claim instead of holding the shutdown past Dramatiq's timeout. Cleared when a
    worker boots, for a process that runs several in turn (the benchmarks).
    """

    def __init__(self) -> None:
        self.event = threading.Event()

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self.event.clear()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self.event.set()


def delivery_message(claims: Sequence[Claimed]) -> dramatiq.Message[Any]:
    """A batch of deliveries, by actor name, so the scheduler needs none of the worker's code.

    The argument is a list of ``[message_id, claim]`` pairs: the worker delivers them
    concurrently (:mod:`notifier.delivery.pool`).
    """
    return dramatiq.Message(
        queue_name=DELIVERY_QUEUE,
        actor_name=DELIVERY_ACTOR,
        args=([[c.message_id, c.claim] for c in claims],),
        kwargs={},
        options={},
    )


def enqueue_deliveries(broker: RedisBroker, claims: Sequence[Claimed], batch_size: int) -> None:
    """Queue claims as batches of ``batch_size``, all in one round trip to Redis.

    One Dramatiq message per batch: the broker's cost (about a millisecond of CPU a message
    here) is paid once per batch, not once per delivery. ``RedisBroker.enqueue`` costs a
    round trip per message; this runs the broker's own dispatch script, with the arguments
    ``RedisBroker.enqueue`` gives it (Dramatiq 2.x, pinned by tests/test_broker.py), for
    each message of a pipeline: each enqueue stays atomic, the broker sees the same
    messages, and the middleware hooks run as they would.
    """
    pipe = broker.client.pipeline(transaction=False)
    dispatch = broker.scripts["dispatch"]
    sent = []
    for batch in batches(claims, batch_size):
        message = delivery_message(batch).copy(options={"redis_message_id": str(uuid4())})
        broker.emit_before("enqueue", message, None)
        dispatch(
            keys=[broker.namespace],
            args=[
                "enqueue",
                current_millis(),
                message.queue_name,
                broker.broker_id,
                broker.heartbeat_timeout,
                broker.dead_message_ttl,
                broker._should_do_maintenance("enqueue"),
                broker._max_unpack_size(),
                message.options["redis_message_id"],
                message.encode(),
            ],
            client=pipe,
        )
        sent.append(message)
    pipe.execute()
    for message in sent:
        broker.emit_after("enqueue", message, None)
