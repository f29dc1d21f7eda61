"""Benchmarks 1 and 2: delivery throughput and the scheduler's claim-and-enqueue rate.

Both against the same baseline, measured in the same run on the same server: a Dramatiq
worker consuming no-op actor calls. That is what "Dramatiq with delayed tasks" costs per
message once the task runs; whatever notifier adds (claim fencing, caps, recipient lookup,
rendering, the provider-call mark, the outcome) shows as the ratio.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from statistics import median

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from bench.common import (
    Result,
    ZeroLatencyTransport,
    due_now,
    enqueuer,
    flush,
    load_pending,
    progress,
    rate,
    running_worker,
    spread,
    wait_until,
)
from notifier.channels.base import Transport
from notifier.models import Channel
from notifier.runtime.settings import get_settings
from notifier.scheduling.broker import delivery_message
from notifier.scheduling.scheduler import Scheduler
from notifier.store import Claimed, Store

THREADS = 4


class NoOp:
    """The baseline actor's counter."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    def __call__(self) -> None:
        with self.lock:
            self.count += 1


def deliver_through(transport: Transport) -> None:
    """Make the worker actor use the real deliverer with ``transport`` on every channel."""
    import workers.actors

    built = workers.actors.build_deliverer(get_settings(), dict.fromkeys(Channel, transport))
    workers.actors.deliverer = lambda: built


def consume(broker: RedisBroker, done: Callable[[], bool], count: int) -> float:
    """Seconds a fresh in-process worker takes to consume what is queued, until ``done()``."""
    with running_worker(broker, THREADS):
        return wait_until(done, 600, f"consuming {count:,} messages")


def enqueue_all(store: Store, broker: RedisBroker, *, one_by_one: bool = False) -> float:
    """Seconds the scheduler takes to claim and enqueue every due message.

    ``one_by_one``: with ``broker.enqueue`` per message, as before batches (for comparison).
    """

    def each(claims: list[Claimed]) -> None:
        for c in claims:
            broker.enqueue(delivery_message([c]))

    scheduler = Scheduler(
        store, each if one_by_one else enqueuer(broker), lease=timedelta(minutes=30)
    )
    return wait_until(lambda: scheduler.tick() == 0, 600, "claiming and enqueueing")


def run(url: str, count: int, rounds: int) -> list[Result]:
    """Alternate baseline and notifier rounds, so drifts in machine load hit both alike."""
    broker = dramatiq.get_broker()
    assert isinstance(broker, RedisBroker)
    sent = ZeroLatencyTransport()
    deliver_through(sent)
    noop = NoOp()
    dramatiq.actor(actor_name="bench_noop", queue_name="bench-noop", max_retries=0)(noop)
    # as the API stores them: with the contacts' keyed hashes, which the worker reads
    store = Store.from_url(f"{url}/0", contact_key=get_settings().secret())

    baseline_rates, delivery_rates, enqueue_rates, single_rates = [], [], [], []
    for round_ in range(1, rounds + 1):
        flush(url)
        progress(f"round {round_}/{rounds}: baseline, {count:,} no-op actor calls")
        noop.count = 0
        for _ in range(count):
            broker.enqueue(dramatiq.Message("bench-noop", "bench_noop", (), {}, {}))
        seconds = consume(broker, lambda: noop.count >= count, count)
        baseline_rates.append(count / seconds)

        progress(f"round {round_}/{rounds}: scheduler, one enqueue per message")
        flush(url)
        load_pending(store, count, due_now, tag=f"e{round_}")
        single_rates.append(count / enqueue_all(store, broker, one_by_one=True))

        progress(f"round {round_}/{rounds}: notifier, {count:,} due reminders")
        flush(url)
        load_pending(store, count, due_now, tag=f"d{round_}")
        enqueue_rates.append(count / enqueue_all(store, broker))
        sent.sent_at.clear()
        seconds = consume(broker, lambda: sent.count >= count, count)
        delivery_rates.append(count / seconds)
        progress(
            f"  baseline {baseline_rates[-1]:,.0f}/s, delivery {delivery_rates[-1]:,.0f}/s, "
            f"claim+enqueue {enqueue_rates[-1]:,.0f}/s"
        )
    ratios = [d / b for d, b in zip(delivery_rates, baseline_rates, strict=True)]
    enqueue_ratios = [e / b for e, b in zip(enqueue_rates, baseline_rates, strict=True)]
    return [
        rate("Raw Dramatiq no-op actor (baseline), messages/s", baseline_rates),
        rate("Delivery through a zero-latency channel, messages/s", delivery_rates),
        Result(
            "1. Delivery ÷ baseline (#15: batches of claims per broker message)",
            spread(ratios),
            "≥ 1.5×",
            median(ratios) >= 1.5,
        ),
        rate("Scheduler claim and enqueue, messages/s", enqueue_rates),
        rate("… with one `broker.enqueue` per message (before batching), messages/s", single_rates),
        Result(
            "2. Claim-and-enqueue ÷ baseline consume",
            spread(enqueue_ratios),
            "≥ 5×",
            median(enqueue_ratios) >= 5,
        ),
    ]
