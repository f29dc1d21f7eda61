"""The acts of one claim against the store: begin the attempt (waiting for another one
that may be mid-call), mark the provider call, note a channel's failure, and record the
verdict — the one place an attempt ends with ``store.finish``."""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from notifier.delivery.decisions import Step, Verdict
from notifier.models import Channel, MessageStatus, PlannedMessage
from notifier.rules.engine import next_in_series
from notifier.store import Busy, CapLimit, SendLease, Store

log = logging.getLogger(__name__)


class Attempt:
    """One attempt of ``message_id`` under ``claim``; ``message`` once it has begun."""

    def __init__(
        self, store: Store, message_id: str, claim: int, clock: Callable[[], datetime]
    ) -> None:
        self.store = store
        self.message_id = message_id
        self.claim = claim
        self.clock = clock
        self.id = secrets.token_hex(8)
        self.message: PlannedMessage | None = None
        # whether it goes in the discreet wording, recorded with a send; None: not known (a
        # send found after an interrupted attempt)
        self.discreet: bool | None = None

    def begin(
        self,
        lease: timedelta,
        call_window: timedelta,
        stopping: threading.Event,
        sleep: Callable[[float], object],
    ) -> SendLease | None:
        """Start the attempt; while another one may be mid-call, wait for it (a few times).

        Giving up is safe: if that other attempt is dead, its lease expires and the scheduler
        claims the message again. A stopping worker gives up at once rather than hold its
        shutdown for up to three call windows.
        """
        for _ in range(3):
            began = self.store.begin_send(
                self.message_id,
                self.claim,
                self.clock(),
                lease=lease,
                attempt=self.id,
                call_window=call_window,
            )
            if not isinstance(began, Busy):
                if began is None:
                    log.info(
                        "message %s: skipped (cancelled, already sent, or a stale claim)",
                        self.message_id,
                    )
                else:
                    self.message = began.message
                return began
            if not stopping.is_set():
                sleep(min(began.wait, call_window).total_seconds())
            if stopping.is_set():
                log.info(
                    "message %s: left to its next claim (this worker is stopping)", self.message_id
                )
                return None
        log.info("message %s: skipped (another attempt is calling a provider)", self.message_id)
        return None

    def mark(self, channel: Channel, caps: list[CapLimit]) -> CapLimit | None:
        """Mark the provider call about to be made, with the caps: the one reached, if any.
        Raises ``TakenOver`` when a later attempt of the claim owns the message."""
        return self.store.provider_call(
            self.message_id, self.claim, self.id, channel.value, self.clock(), caps
        )

    def note(self, channel: Channel, detail: str) -> None:
        """This channel did not work; the history says why before the next one is tried."""
        self.store.note(self.message_id, self.clock(), detail, channel)

    def record(self, verdict: Verdict) -> MessageStatus | None:
        """Record how the attempt ended: a final status (a recurring message's next
        occurrence is planned with it), or back in the schedule at ``retry_at``."""
        if verdict.step is Step.LEAVE:
            log.info("message %s: skipped (a later attempt took it over)", self.message_id)
            return None
        assert verdict.step is Step.END and verdict.status is not None and self.message
        channel = verdict.channel.value if verdict.channel else ""
        final = verdict.retry_at is None
        self.store.finish(
            self.message_id,
            self.claim,
            verdict.status,
            self.clock(),
            detail=verdict.detail,
            channel=channel,
            retry_at=verdict.retry_at,
            following=next_in_series(self.message) if final else None,
            reference=verdict.reference,
            exclude=verdict.channel if verdict.exclude else None,
            discreet=self.discreet,
        )
        if final:
            log.info("message %s: %s via %s", self.message_id, verdict.status.value, channel or "-")
        elif verdict.status is MessageStatus.TEMPORARY_FAILURE:
            after = "next channel" if verdict.exclude else "retry later"
            log.info("message %s: temporary failure via %s, %s", self.message_id, channel, after)
        return verdict.status
