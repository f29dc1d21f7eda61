"""Deliveries of a batch run side by side: one bounded pool of send threads per worker process.

A provider answers in 100–300 ms, so a worker's throughput is its deliveries in flight
divided by that latency. One Dramatiq message carries a batch of claims (the scheduler
groups them); each claim is delivered by :meth:`notifier.delivery.attempt.Deliverer.deliver`, the
same fenced, at-most-once code as a single delivery, on a pool shared by every batch the
process is working on. The pool's size is the process's calls in flight at most, whatever
the number of batches or Dramatiq threads.

Threads, not an event loop: the deliveries wait on sockets (Redis, the provider), where a
thread gives up the GIL, and the providers' reference clients (twilio, pywebpush) are
synchronous; e-mail already runs on an event loop of its own behind the SMTP pool. One code
path for a delivery whatever the batch size keeps its guarantees in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TypeVar

log = logging.getLogger(__name__)

Claim = tuple[str, int]  # a message id and its claim (fencing token)
T = TypeVar("T")


def batches(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """``items`` in consecutive groups of at most ``size``, in order."""
    return [items[start : start + size] for start in range(0, len(items), size)]


class Sends:
    """The send threads of one worker process, shared by the batches it delivers."""

    def __init__(self, in_flight: int) -> None:
        self.pool = ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="send")

    def run(self, deliver: Callable[[str, int], object], claims: Sequence[Claim]) -> None:
        """Deliver every claim of a batch, concurrently; return when all have ended.

        One delivery that raises (Redis gone longer than the worker waits, a bug) does not
        stop the others: once they have all ended, the first error is raised again, so that
        Dramatiq retries the batch. Claims already finished are skipped then (their fencing
        token is spent), so only the unfinished ones are attempted again.
        """
        futures: list[Future[object]] = [
            self.pool.submit(deliver, message_id, claim) for message_id, claim in claims
        ]
        wait(futures)
        errors = [error for future in futures if (error := future.exception()) is not None]
        if errors:
            if len(errors) > 1:
                log.error("%d deliveries of a batch of %d failed", len(errors), len(claims))
            raise errors[0]

    def close(self) -> None:
        self.pool.shutdown(wait=True)
