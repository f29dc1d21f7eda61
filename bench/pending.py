"""Benchmarks 3, 4 and 6: a large schedule. Memory per pending reminder, firing lateness
under a steady due rate, and head-of-line blocking against Dramatiq's own ``delay=``.

Dramatiq keeps delayed messages in a FIFO list and holds up to ``threads × 1000`` of them in
each worker's memory until their time comes: a reminder due in one second, queued behind
far-future ones, waits behind them. notifier keeps its schedule in a sorted set, so what is
due next is always what it reads first.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

from bench.common import (
    Result,
    ZeroLatencyTransport,
    enqueuer,
    far_future,
    flush,
    load_pending,
    progress,
    reminder,
    running_worker,
)
from bench.pipeline import THREADS, deliver_through
from notifier.rules.plans import Plan
from notifier.scheduling.scheduler import Scheduler
from notifier.store import PREFIX, Store

STEADY_RATE = 100  # reminders falling due per second


def percentile(values: list[float], q: int) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else values[0]
    )


def where_memory_goes(client: redis.Redis, count: int, sample: int = 2000) -> str:
    """Bytes per pending reminder by kind of key, from MEMORY USAGE: every key of the kinds
    with few keys (the schedule, the shared indexes), the first ``sample`` keys of those with
    one key per message or per event, scaled by how many there are."""
    seen: dict[str, int] = {}
    measured: dict[str, list[int]] = {}
    for key in client.scan_iter(match=f"{PREFIX}*", count=10_000):
        kind = key.decode().split(":")[1]
        seen[kind] = seen.get(kind, 0) + 1
        sizes = measured.setdefault(kind, [])
        if len(sizes) < sample:
            sizes.append(int(client.memory_usage(key, samples=0) or 0))
    return ", ".join(
        f"{kind} {statistics.mean(measured[kind]) * seen[kind] / count:,.0f}"
        for kind in sorted(seen)
    )


def memory_per_pending(client: redis.Redis, store: Store, count: int) -> list[Result]:
    """Memory per pending reminder, and how much of it is not the message's own data: the
    body as stored (the planned message's JSON, null fields left out) is the data, every
    other byte (keys, status, history, schedule, indexes, idempotency) is overhead."""
    before = int(client.info("memory")["used_memory"])
    load_pending(store, count, far_future, tag="p")
    after = int(client.info("memory")["used_memory"])
    per_message = (after - before) / count
    sample = reminder(0, far_future(0), tag="p")
    body = len(client.hget(f"{PREFIX}msg:{sample.id}", "body") or b"")
    full = len(sample.model_dump_json().encode())
    breakdown = where_memory_goes(client, count)
    progress(f"  {per_message:,.0f} bytes per pending reminder ({body} of body): {breakdown}")
    idempotency = [k for k in client.scan_iter(match=f"{PREFIX}idem:*", count=10_000)]
    for chunk in range(0, len(idempotency), 1000):
        client.delete(*idempotency[chunk : chunk + 1000])
    later = (int(client.info("memory")["used_memory"]) - before) / count
    return [
        Result(
            f"Redis memory per pending reminder ({count:,} pending, 2 per event)",
            f"{per_message:,.0f} B",
            "",
            None,
        ),
        Result(
            f"4. … beyond its data (its body as stored: {body} B; {full} B with null fields)",
            f"{per_message - body:,.0f} B",
            "≤ 400 B",
            per_message - body <= 400,
        ),
        Result(
            "… once its event's idempotency record expired (7 days by default)",
            f"{later - body:,.0f} B",
            "",
            None,
        ),
        Result("… by kind of key, bytes per reminder (MEMORY USAGE)", breakdown, "", None),
    ]


@contextmanager
def running_engine(
    store: Store, broker: RedisBroker, transport: ZeroLatencyTransport
) -> Iterator[None]:
    """A scheduler and a worker delivering through ``transport``, for the block."""
    deliver_through(transport)
    stop = threading.Event()
    scheduler = Scheduler(store, enqueuer(broker))
    threading.Thread(target=scheduler.run, args=(stop,), daemon=True).start()
    try:
        with running_worker(broker, THREADS):
            yield
    finally:
        stop.set()


def lateness(store: Store, broker: RedisBroker, pending: int, seconds: int) -> list[Result]:
    """A steady stream falling due among ``pending`` far-future reminders, and one 1-s reminder."""
    transport = ZeroLatencyTransport()
    total = STEADY_RATE * seconds
    # every reminder stored before the first falls due: 2 s, and 1 ms per reminder
    lead = 2 + total / 1000
    start = datetime.now(UTC) + timedelta(seconds=lead)
    storing = time.monotonic()
    due = {}
    plans = []
    for n in range(total):
        message = reminder(n, start + timedelta(seconds=n / STEADY_RATE), tag="s")
        due[message.id] = message.due_at.timestamp()
        plans.append((f"bench:steady-{n}", Plan(messages=(message,))))
    for chunk in range(0, total, 1000):
        store.accept_many(plans[chunk : chunk + 1000], datetime.now(UTC), ttl=3600)
    progress(
        f"lateness: {total:,} reminders falling due at {STEADY_RATE}/s, among {pending:,} pending"
        f" (stored in {time.monotonic() - storing:.1f} s, the first due {lead:.1f} s after)"
    )
    with running_engine(store, broker, transport):
        deadline = time.time() + lead + seconds + 60
        while len([m for m in due if m in transport.sent_at]) < total and time.time() < deadline:
            time.sleep(1)
            progress(f"  sent {len(transport.sent_at):,} of {total:,}")
        late = [transport.sent_at[m] - due[m] for m in due if m in transport.sent_at]
        missing = total - len(late)
        progress("head-of-line: one reminder due in 1 s")
        single = reminder(0, datetime.now(UTC) + timedelta(seconds=1), tag="h")
        store.accept("bench:single", Plan(messages=(single,)), datetime.now(UTC), ttl=3600)
        while single.id not in transport.sent_at and time.time() < single.due_at.timestamp() + 30:
            time.sleep(0.01)
        single_late = transport.sent_at.get(single.id, float("inf")) - single.due_at.timestamp()
    p50, p99 = percentile(late, 50), percentile(late, 99)
    progress(f"  lateness p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, {missing} not sent")
    return [
        Result(
            f"3. Lateness p50 / p99, {STEADY_RATE}/s falling due among {pending:,} pending",
            f"{p50 * 1000:.0f} ms / {p99 * 1000:.0f} ms"
            + (f" ({missing} never sent)" if missing else ""),
            "p99 ≤ 1 s",
            p99 <= 1.0 and not missing,
        ),
        Result(
            f"6. A 1-s reminder among {pending:,} far-future ones: fired after",
            f"{single_late * 1000:.0f} ms late" if single_late != float("inf") else "never (30 s)",
            "on time (≤ 1 s late)",
            single_late <= 1.0,
        ),
    ]


def dramatiq_delay(url: str, broker: RedisBroker, delayed: int, patience: float) -> Result:
    """The same 1-s task with Dramatiq's ``delay=``, behind far-future delayed tasks."""
    flush(url)
    ran_at: list[float] = []
    dramatiq.actor(actor_name="bench_soon", queue_name="bench-delay", max_retries=0)(
        lambda: ran_at.append(time.time())
    )
    progress(f"dramatiq delay=: queueing {delayed:,} far-future delayed tasks")
    message: dramatiq.Message[None] = dramatiq.Message("bench-delay", "bench_soon", (), {}, {})
    for n in range(delayed):
        broker.enqueue(message.copy(), delay=6 * 24 * 3600 * 1000)
        if n and n % 25_000 == 0:
            progress(f"  {n:,} queued")
    due = time.time() + 1
    broker.enqueue(message.copy(), delay=1000)
    with running_worker(broker, THREADS):
        while not ran_at and time.time() < due + patience:
            time.sleep(0.05)
    never = f"never (not run after {patience:.0f} s)"
    late = f"{(ran_at[0] - due) * 1000:.0f} ms late" if ran_at else never
    progress(f"  Dramatiq's 1-s task: {late}")
    return Result(
        f"6'. Same with Dramatiq `delay=`, behind {delayed:,} delayed tasks",
        late,
        "(comparison)",
        None,
    )


def run(
    url: str,
    pending: int,
    *,
    steady_seconds: int,
    dramatiq_delayed: int,
    dramatiq_patience: float = 30.0,
) -> list[Result]:
    flush(url)
    broker = dramatiq.get_broker()
    assert isinstance(broker, RedisBroker)
    client = redis.Redis.from_url(f"{url}/0")
    store = Store.from_url(f"{url}/0")
    progress(f"memory: storing {pending:,} far-future reminders")
    results = memory_per_pending(client, store, pending)
    results += lateness(store, broker, pending, steady_seconds)
    results.append(dramatiq_delay(url, broker, dramatiq_delayed, dramatiq_patience))
    return results
