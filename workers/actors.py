"""The delivery actor: one call per batch of claimed messages, each an id and its claim
(fencing token), delivered concurrently on the process's send threads.

Dramatiq retries the actor only when it crashes (an exception we did not expect); provider
failures are handled inside :class:`notifier.delivery.attempt.Deliverer`, which reschedules them in
the engine's own schedule rather than in the broker.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from datetime import timedelta
from functools import cache

import dramatiq

from notifier.channels import transports_for
from notifier.channels.base import Transport
from notifier.channels.registry import plugins
from notifier.delivery.attempt import Deliverer
from notifier.delivery.decisions import RetryPolicy
from notifier.delivery.pool import Sends
from notifier.delivery.ratelimit import rate_limits
from notifier.links import Links
from notifier.metrics import DeliveryMetrics
from notifier.models import Channel
from notifier.rules.loader import RuleSetError, rules_holder
from notifier.rules.pairing import pair
from notifier.runtime.settings import Settings, get_settings
from notifier.scheduling.broker import DELIVERY_ACTOR, DELIVERY_QUEUE, Stopping
from notifier.store import connections
from notifier.store.recipients import RecipientStore
from notifier.templates.renderer import Renderer, templates_holder

log = logging.getLogger(__name__)
_building = threading.Lock()
# Tells the deliveries when this process's worker shuts down (the package adds it to the broker).
STOPPING = Stopping()


@cache
def _deliverer() -> Deliverer:
    settings = get_settings()
    return build_deliverer(settings, transports_for(settings))


@cache
def _sends() -> Sends:
    return Sends(get_settings().worker_sends_in_flight)


def sends() -> Sends:
    """The process's send threads, made once (see :func:`deliverer`)."""
    with _building:
        return _sends()


def deliverer() -> Deliverer:
    """Built on first use in each worker process (after Dramatiq forked it), then reused.

    Once: the worker threads all ask at their first message, and ``functools.cache`` alone
    would let several build one each (several sets of connections, and metrics objects
    that overwrite each other's counts in the shared multiprocess files).
    """
    with _building:
        return _deliverer()


def paired_renderer(settings: Settings) -> Renderer:
    """The templates, reloaded as they change; where the rule files are at hand too, a
    change is checked against them as in the API: a template a rule names is never dropped."""
    templates = templates_holder(settings.templates_dir)
    try:
        rules = rules_holder(settings.rules_dir)
    except RuleSetError as exc:  # not there, or refused (the API says why): templates alone
        log.warning("templates not checked against the rules, which cannot be read: %s", exc)
        return Renderer(templates, reload_seconds=settings.rules_reload_seconds)
    pair(rules, templates, now=False)
    return Renderer(templates, reload_seconds=settings.rules_reload_seconds, rules=rules)


def build_deliverer(settings: Settings, transports: Mapping[Channel, Transport]) -> Deliverer:
    wait = settings.worker_redis_wait_seconds
    store = connections.store(settings, outage_wait=wait)
    return Deliverer(
        store,
        paired_renderer(settings),
        transports,
        retry=RetryPolicy(
            base=timedelta(seconds=settings.retry_base_seconds),
            max_attempts=settings.max_attempts,
        ),
        recipient_cap=(
            (settings.recipient_cap_max, timedelta(seconds=settings.recipient_cap_window_seconds))
            if settings.recipient_cap_max
            else None
        ),
        sms_normalization=settings.sms_normalization,
        recipients=RecipientStore(store.redis, contact_key=settings.secret()),
        metrics=DeliveryMetrics() if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else None,
        stopping=STOPPING.event,
        links=Links(
            settings.secret(),
            settings.public_url,
            ttl=timedelta(days=settings.link_ttl_days),
            discreet_url=settings.discreet_public_url,
        ),
        rate_limits=rate_limits(
            connections.rate_limit_client(settings, outage_wait=wait),
            per_second={c: p.rate_limit(settings) for c, p in plugins().items()},
        ),
    )


@dramatiq.actor(actor_name=DELIVERY_ACTOR, queue_name=DELIVERY_QUEUE, max_retries=10)
def deliver(claims: list[tuple[str, int]]) -> None:
    sends().run(deliverer().deliver, claims)
