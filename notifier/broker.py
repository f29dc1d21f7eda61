"""The Dramatiq broker: Redis, in its own logical database, shared by scheduler and workers."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from notifier.settings import Settings

DELIVERY_QUEUE = "deliveries"
DELIVERY_ACTOR = "deliver"


class MissingRedisURL(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            "NOTIFIER_REDIS_URL is not set. Point it at your Redis or Valkey server, "
            "or use `notifier run`, which starts an embedded Valkey for you."
        )


def require_redis_url(settings: Settings) -> str:
    if not settings.redis_url:
        raise MissingRedisURL()
    return settings.redis_url


def configure_broker(settings: Settings) -> RedisBroker:
    """Create the broker and make it Dramatiq's global one (actors bind to it on declaration)."""
    broker = RedisBroker(
        url=settings.broker_url(require_redis_url(settings)),
        heartbeat_timeout=settings.broker_heartbeat_timeout_ms,
        maintenance_chance=settings.broker_maintenance_chance,
    )
    dramatiq.set_broker(broker)
    return broker


def enqueue_delivery(broker: dramatiq.Broker, message_id: str, claim: int) -> None:
    """Queue one delivery by actor name, so the scheduler needs none of the worker's code."""
    broker.enqueue(
        dramatiq.Message(
            queue_name=DELIVERY_QUEUE,
            actor_name=DELIVERY_ACTOR,
            args=(message_id, claim),
            kwargs={},
            options={},
        )
    )
