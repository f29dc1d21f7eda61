"""What every benchmark shares: a private server, synthetic reminders, progress, statistics.

Benchmarks run against their own embedded Valkey (never the dev one) in a temporary folder,
and report ratios against a baseline measured in the same run, on the same server: these
machines are shared and noisy, so an absolute time says little and a ratio says more.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

from notifier.channels.base import Outcome, OutgoingMessage, SendResult
from notifier.models import Channel, Contacts, PlannedMessage, Recipient
from notifier.rules.engine import message_id
from notifier.rules.plans import Plan
from notifier.runtime.redis_server import EmbeddedValkey, free_port
from notifier.store import Claimed, Store

STARTED = time.monotonic()


def enqueuer(broker: RedisBroker) -> Callable[[list[Claimed]], None]:
    """The scheduler's enqueue, as `notifier scheduler` does it: batches of the default size."""
    from notifier.runtime.settings import get_settings
    from notifier.scheduling.broker import enqueue_deliveries

    size = get_settings().delivery_batch_size
    return lambda claims: enqueue_deliveries(broker, claims, size)


@contextmanager
def running_worker(broker: RedisBroker, threads: int) -> Iterator[dramatiq.Worker]:
    """A Dramatiq worker in this process for the block: stopped after it, and taken off the
    broker. Dramatiq leaves each worker's middleware on its broker, and that middleware starts
    a consumer in its worker, stopped or not, whenever a queue is declared later: such
    consumers took messages meant for the running worker, and polled the server after it
    stopped (dozens of CRITICAL lines at the end of a run)."""
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        broker.middleware[:] = [
            m for m in broker.middleware if getattr(m, "worker", None) is not worker
        ]


def progress(message: str) -> None:
    """One line on stderr, with the time since the run started: benchmarks take minutes."""
    print(f"[{time.monotonic() - STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Result:
    """One line of the results table."""

    name: str
    value: str
    goal: str
    met: bool | None  # None: informative, no goal

    def row(self) -> str:
        verdict = {True: "yes", False: "**no**", None: ""}[self.met]
        return f"| {self.name} | {self.value} | {self.goal} | {verdict} |"


def rate(name: str, samples: list[float]) -> Result:
    """An informative line: a rate per second, median and range."""
    return Result(name, spread(samples, "{:,.0f}"), "", None)


def spread(samples: list[float], fmt: str = "{:.2f}") -> str:
    """Median and range of repeated measurements, e.g. ``0.81 (0.77–0.86, n=3)``."""
    median = fmt.format(statistics.median(samples))
    low, high = fmt.format(min(samples)), fmt.format(max(samples))
    return f"{median} ({low}–{high}, n={len(samples)})"


@contextmanager
def private_server() -> Iterator[str]:
    """A fresh embedded Valkey on loopback; yields its URL without a database number."""
    with tempfile.TemporaryDirectory(prefix="notifier-bench-") as folder:
        server = EmbeddedValkey(Path(folder), free_port())
        server.start()
        try:
            yield server.connection_url
        finally:
            server.stop()


def flush(url: str) -> None:
    """Empty the server, and free its memory before returning: a plain FLUSHALL may free it
    in the background (lazyfree), which made the memory measured next look smaller."""
    redis.Redis.from_url(url).execute_command("FLUSHALL", "SYNC")


def wait_until(done: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds until ``done()``; raises if it takes longer than ``timeout``."""
    start = time.perf_counter()
    while not done():
        if time.perf_counter() - start > timeout:
            raise TimeoutError(f"{what}: not done after {timeout:.0f} s")
        time.sleep(0.002)
    return time.perf_counter() - start


TEMPLATE = PlannedMessage(
    id="x" * 16,
    event_id="bench",
    event_type="appointment.booked",
    rule="reminder-48h",
    rules_version="bench",
    subject="appointment:bench",
    recipient=Recipient(
        id="citizen-bench",
        locale="fr",
        contacts=Contacts(phone="+33612345678", email="camille@example.org"),
    ),
    channels=(Channel.SMS, Channel.EMAIL),
    template="appointment_reminder",
    due_at=datetime(2026, 1, 1, tzinfo=UTC),
    data={
        "starts_at": "2026-01-03T09:30:00+01:00",
        "unit": "Brigade de Lyon",
        "address": "1 rue de la République, Lyon",
    },
)


def reminder(n: int, due_at: datetime, *, tag: str = "r") -> PlannedMessage:
    """The ``n``-th synthetic reminder, as the reference rules plan them: two per booked
    appointment (48 h and 2 h before), sharing its subject, event and citizen."""
    event, rule = n // 2, ("reminder-48h", "reminder-2h")[n % 2]
    return TEMPLATE.model_copy(
        update={
            "id": message_id("bench", f"{tag}-evt-{event}", rule),
            "rule": rule,
            "event_id": f"{tag}-evt-{event}",
            "subject": f"appointment:{tag}-{event}",
            "recipient": TEMPLATE.recipient.model_copy(update={"id": f"citizen-{tag}-{event}"}),
            "due_at": due_at,
        }
    )


def load_pending(
    store: Store,
    count: int,
    due_at: Callable[[int], datetime],
    *,
    tag: str = "r",
    chunk: int = 2000,
) -> None:
    """Store ``count`` reminders (``count / 2`` events) through the real acceptance script,
    pipelined by chunks."""
    now = datetime.now(UTC)
    last_report = time.monotonic()
    for start in range(0, count, chunk):
        plans = [
            (
                f"bench:{tag}-evt-{n // 2}",
                Plan(
                    messages=tuple(
                        reminder(m, due_at(m), tag=tag) for m in range(n, min(n + 2, count))
                    )
                ),
            )
            for n in range(start, min(count, start + chunk), 2)
        ]
        store.accept_many(plans, now, ttl=3600)
        if time.monotonic() - last_report > 5:
            progress(f"  stored {start + 2 * len(plans):,} of {count:,} reminders")
            last_report = time.monotonic()


def far_future(_: int) -> datetime:
    return datetime.now(UTC) + timedelta(days=30)


def due_now(_: int) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=1)


class ZeroLatencyTransport:
    """A channel that sends at once and notes when: what the benchmarks deliver through."""

    timeout = 0.0

    def __init__(self) -> None:
        self.sent_at: dict[str, float] = {}

    @property
    def count(self) -> int:
        return len(self.sent_at)

    def send(self, message: OutgoingMessage) -> SendResult:
        self.sent_at[message.id] = time.time()  # one dict store: atomic under the GIL
        return SendResult(Outcome.SENT, reference="bench")
