"""Batches: claims grouped into Dramatiq messages, delivered concurrently by a worker.

The end-to-end proofs (a batch's sends in flight at once at a real Twilio peer, a worker
killed in the middle of a batch) are in tests/test_faults.py; the throughput in bench/.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
from dramatiq.brokers.redis import RedisBroker

from notifier.delivery.pool import Sends, batches
from notifier.scheduling.broker import (
    DELIVERY_ACTOR,
    DELIVERY_QUEUE,
    delivery_message,
    enqueue_deliveries,
)
from notifier.store import Claimed


@pytest.mark.parametrize(
    ("count", "size", "sizes"),
    [
        pytest.param(0, 50, [], id="none"),
        pytest.param(1, 50, [1], id="one"),
        pytest.param(50, 50, [50], id="exactly-one-batch"),
        pytest.param(51, 50, [50, 1], id="one-over"),
        pytest.param(120, 50, [50, 50, 20], id="three"),
        pytest.param(3, 1, [1, 1, 1], id="size-one"),
    ],
)
def test_batches_keep_every_item_in_order(count: int, size: int, sizes: list[int]) -> None:
    items = list(range(count))
    groups = batches(items, size)
    assert [len(g) for g in groups] == sizes
    assert [i for g in groups for i in g] == items


def test_a_batch_is_delivered_concurrently() -> None:
    """Ten deliveries that can only end once all ten have started: a barrier of ten."""
    sends = Sends(in_flight=10)
    barrier = threading.Barrier(10, timeout=5)
    ended: list[str] = []

    def deliver(message_id: str, claim: int) -> None:
        barrier.wait()  # BrokenBarrierError unless ten run at once
        ended.append(message_id)

    sends.run(deliver, [(f"m{n}", n) for n in range(10)])
    assert sorted(ended) == sorted(f"m{n}" for n in range(10))
    sends.close()


def test_in_flight_is_bounded_across_batches() -> None:
    sends = Sends(in_flight=3)
    lock = threading.Lock()
    now = peak = 0

    def deliver(message_id: str, claim: int) -> None:
        nonlocal now, peak
        with lock:
            now += 1
            peak = max(peak, now)
        time.sleep(0.02)
        with lock:
            now -= 1

    runs = [
        threading.Thread(target=sends.run, args=(deliver, [(f"{b}-{n}", n) for n in range(6)]))
        for b in range(3)
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert peak == 3
    sends.close()


def test_one_failed_delivery_lets_the_others_end_then_fails_the_batch() -> None:
    """Dramatiq then retries the batch; the claims already finished are skipped by fencing."""
    sends = Sends(in_flight=4)
    ended: list[str] = []

    def deliver(message_id: str, claim: int) -> None:
        if message_id == "bad":
            raise ConnectionError("redis went away")
        time.sleep(0.01)
        ended.append(message_id)

    with pytest.raises(ConnectionError, match="redis went away"):
        sends.run(deliver, [("a", 1), ("bad", 2), ("b", 3), ("c", 4), ("d", 5)])
    assert sorted(ended) == ["a", "b", "c", "d"]
    sends.close()


@pytest.fixture
def broker(redis_base_url: str) -> Iterator[RedisBroker]:
    broker = RedisBroker(url=f"{redis_base_url}/9", maintenance_chance=0)
    broker.client.flushdb()
    broker.declare_queue(DELIVERY_QUEUE)
    yield broker
    broker.client.flushdb()
    broker.close()


def queued(broker: RedisBroker) -> list[dramatiq.Message[Any]]:
    ids = broker.client.lrange(f"dramatiq:{DELIVERY_QUEUE}", 0, -1)
    bodies = broker.client.hmget(f"dramatiq:{DELIVERY_QUEUE}.msgs", *ids) if ids else []
    return [dramatiq.Message.decode(body) for body in bodies]


def test_claims_are_queued_as_batches_in_one_round_trip(broker: RedisBroker) -> None:
    claims = [Claimed(f"msg-{n}", n + 1) for n in range(120)]
    enqueue_deliveries(broker, claims, 50)
    messages = queued(broker)
    assert [m.actor_name for m in messages] == [DELIVERY_ACTOR] * 3
    carried = sorted((pair for m in messages for pair in m.args[0]), key=lambda p: p[1])
    assert carried == [[c.message_id, c.claim] for c in claims]
    assert sorted(len(m.args[0]) for m in messages) == [20, 50, 50]


def test_batch_enqueue_passes_what_dramatiq_own_enqueue_passes(broker: RedisBroker) -> None:
    """Pins what ``enqueue_deliveries`` copies from ``RedisBroker.enqueue``: the dispatch
    script's KEYS and ARGV. A Dramatiq upgrade that changes them fails here, loudly, instead
    of queueing messages no worker reads."""
    calls: list[tuple[list[Any], list[Any]]] = []
    real = broker.scripts["dispatch"]

    def recording(keys: list[Any], args: list[Any], client: Any = None) -> Any:
        calls.append((list(keys), list(args)))
        return real(keys=keys, args=args, client=client)

    broker.scripts["dispatch"] = recording
    one = Claimed("msg-1", 7)
    broker.enqueue(delivery_message([one]))
    enqueue_deliveries(broker, [one], 50)
    (theirs_keys, theirs), (ours_keys, ours) = calls
    assert ours_keys == theirs_keys
    assert len(ours) == len(theirs)
    volatile = {1, 8, 9}  # timestamp, the redis message id, the encoded message
    assert [a for n, a in enumerate(ours) if n not in volatile] == [
        a for n, a in enumerate(theirs) if n not in volatile
    ]
    assert abs(int(ours[1]) - int(theirs[1])) < 5_000
    mine, dramatiqs = dramatiq.Message.decode(ours[9]), dramatiq.Message.decode(theirs[9])
    assert (mine.queue_name, mine.actor_name, mine.args) == (
        dramatiqs.queue_name,
        dramatiqs.actor_name,
        dramatiqs.args,
    )
    assert mine.options["redis_message_id"] == ours[8]
    assert len(queued(broker)) == 2
