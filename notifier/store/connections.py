"""Every Redis client of the engine, built in one place from the settings.

One server (``NOTIFIER_REDIS_URL``) or a primary found through Sentinel
(``NOTIFIER_REDIS_SENTINELS``): with Sentinel, redis-py's ``SentinelConnectionPool`` asks
the sentinels for the primary at each new connection and drops a connection to a server
that became a replica, so every process follows a failover without a restart. The engine's
data (database 0), the rate limits and Dramatiq's broker (``NOTIFIER_BROKER_REDIS_DB``) all
come from here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import redis
import redis.asyncio
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.sentinel import Sentinel

from notifier.runtime.redis_server import running_url
from notifier.runtime.settings import Settings, sentinel_addresses
from notifier.store import Store, aio, patient_retry

ENGINE_DB = 0  # with Sentinel; with a URL, the URL's own database


class MissingRedis(RuntimeError):
    def __init__(self, settings: Settings) -> None:
        super().__init__(
            "neither NOTIFIER_REDIS_URL nor NOTIFIER_REDIS_SENTINELS is set, and no embedded "
            f"server runs on NOTIFIER_DATA_DIR={settings.data_dir}: point one at your Redis or "
            "Valkey servers, or start `notifier run` (`make run`) in this folder first."
        )


def redis_url(settings: Settings) -> str | None:
    """``NOTIFIER_REDIS_URL``; unset (and no Sentinel), the embedded server ``notifier run``
    started on the same data folder, if it answers (database 0, the engine's)."""
    if settings.redis_url or settings.redis_sentinels:
        return settings.redis_url
    embedded = running_url(settings.data_dir / "valkey")
    return None if embedded is None else embedded + "/0"


def require_redis(settings: Settings) -> None:
    if not redis_url(settings) and not settings.redis_sentinels:
        raise MissingRedis(settings)


def _tls(settings: Settings) -> dict[str, Any]:
    if not settings.redis_tls:
        return {}
    ca = {"ssl_ca_certs": str(settings.redis_tls_ca_file)} if settings.redis_tls_ca_file else {}
    return {"ssl": True, **ca}


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def client(settings: Settings, *, broker: bool = False, **options: Any) -> redis.Redis:
    """A client of the primary: the engine's database, or the broker's; ``options`` for
    redis-py."""
    require_redis(settings)
    url = redis_url(settings)
    if url:
        return redis.Redis.from_url(settings.broker_url(url) if broker else url, **options)
    assert settings.redis_sentinels  # require_redis
    sentinel = Sentinel(sentinel_addresses(settings.redis_sentinels), **_sentinels(settings))
    return sentinel.master_for(
        settings.redis_sentinel_service,
        db=settings.broker_redis_db if broker else ENGINE_DB,
        **_primary(settings),
        **options,
    )


def async_engine_connect(settings: Settings) -> aio.Connect:
    """Makes an asyncio client of the engine's data, as :func:`engine_client`'s for the API
    (:mod:`notifier.store.aio`: one is made for each event loop)."""
    url = redis_url(settings)
    if url:
        return aio.from_url(url)
    addresses = sentinel_addresses(settings.redis_sentinels or "")

    def connect() -> redis.asyncio.Redis:
        sentinel = AsyncSentinel(addresses, **_sentinels(settings))
        return sentinel.master_for(
            settings.redis_sentinel_service, db=ENGINE_DB, **_primary(settings), **aio.OPTIONS
        )

    return connect


def _sentinels(settings: Settings) -> dict[str, Any]:
    """How to reach the sentinels (short timeouts: another one may answer)."""
    return {
        "sentinel_kwargs": {
            "socket_timeout": 2.0,
            "socket_connect_timeout": 2.0,
            "password": _secret(settings.redis_sentinel_password),
            **_tls(settings),
        }
    }


def _primary(settings: Settings) -> dict[str, Any]:
    """How to log into the primary the sentinels name."""
    return {
        "username": settings.redis_username,
        "password": _secret(settings.redis_password),
        **_tls(settings),
    }


def engine_client(settings: Settings, *, outage_wait: float = 0.0) -> redis.Redis:
    """The engine's data; with ``outage_wait``, each command waits that long for Redis."""
    return client(
        settings,
        decode_responses=True,
        health_check_interval=30,
        socket_timeout=10,
        retry=patient_retry(outage_wait),
    )


def broker_client(settings: Settings) -> redis.Redis:
    """Dramatiq's database (its maintenance scans keys: apart from the engine's)."""
    return client(settings, broker=True, health_check_interval=30)


def rate_limit_client(settings: Settings, *, outage_wait: float = 0.0) -> redis.Redis:
    """The rate limits' counters (Dramatiq's backend reads bytes), beside the engine's data."""
    return client(settings, retry=patient_retry(outage_wait))


def store(settings: Settings, *, outage_wait: float = 0.0) -> Store:
    """The store; each durable write waits for the replicas the settings ask for.

    ``outage_wait``: how long a command waits for Redis, and a durable write for its
    replicas, before failing (workers wait; the API answers 503 at once).
    """
    return Store(
        engine_client(settings, outage_wait=outage_wait),
        retention=timedelta(days=settings.retention_days),
        contact_key=settings.secret(),
        replicas=settings.wait_replicas(),
        wait=timedelta(milliseconds=settings.redis_wait_timeout_ms),
        patience=outage_wait,
        connect_async=async_engine_connect(settings),
    )
