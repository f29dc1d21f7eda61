"""The delivery's decisions, as pure functions: which channel may be tried, what a temporary
failure leads to, how long to back off (random, from the generator it is given).
:class:`notifier.delivery.attempt.Deliverer` executes them (Redis, providers); tests/test_routing.py
holds them to tables.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from notifier.accessibility import excluded_channel
from notifier.channels.registry import address_of
from notifier.models import Channel, MessageStatus, Recipient
from notifier.safety import unsafe_channel


@dataclass(frozen=True)
class RetryPolicy:
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)
    max_attempts: int = 8

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        """Exponential backoff with full jitter: spreads a burst of retries after an outage."""
        ceiling = min(self.cap, self.base * (2**attempts))
        return timedelta(seconds=rng.uniform(ceiling.total_seconds() / 2, ceiling.total_seconds()))


@dataclass(frozen=True)
class Skip:
    """Why a channel is not tried for this message. ``noted``: a choice or a rule closed
    it (the history says so, and it counts as skipped); else it simply cannot be used
    (no contact, no transport), which only the final summary mentions."""

    reason: str
    noted: bool = True


def skip(
    channel: Channel,
    recipient: Recipient,
    category: str | None,
    *,
    stopped: Mapping[Channel, str],
    closed: frozenset[str],
    has_transport: bool,
) -> Skip | None:
    """Why ``channel`` is not tried for ``recipient``, or None if it may be.

    In order: the person's safety settings exclude it (or its address), the channel is stopped (our
    credentials were refused), the person's needs exclude it, they opted out or the provider
    blocked it, a receipt or exhausted retries closed it for this message; then a missing
    contact or transport.
    """
    address = address_of(recipient.contacts, channel)
    reason = (
        unsafe_channel(channel, address, recipient.safe)
        or (
            f"the {channel.value} channel is stopped: {stopped[channel]}"
            if channel in stopped
            else None
        )
        or excluded_channel(channel, recipient.needs)
        or recipient.refusal(channel, category)
        or (
            "closed for this message (reported undelivered, or its retries ran out)"
            if channel.value in closed
            else None
        )
    )
    if reason:
        return Skip(reason)
    if address is None:
        return Skip("no contact", noted=False)
    if not has_transport:
        return Skip("no transport", noted=False)
    return None


@dataclass(frozen=True)
class AfterFailure:
    """What a temporary failure leads to: ``status`` and, unless final, when to try again
    (``retry_at``) and whether on the next channel (``next_channel``)."""

    status: MessageStatus
    detail: str
    retry_at: datetime | None = None
    next_channel: bool = False


def after_temporary_failure(
    *,
    attempts: int,
    max_attempts: int,
    fallback: bool,
    now: datetime,
    backoff: timedelta,
    retry_after: timedelta | None,
    settle: Callable[[datetime], datetime],
    expires_at: datetime | None,
    reason: str,
    channel: Channel,
) -> AfterFailure:
    """After the ``attempts + 1``-th temporary failure on ``channel``.

    Retries exhausted: the next channel at once when there is one (``fallback``), else a
    permanent failure. Otherwise a retry after the backoff, or later if the provider asked
    (``retry_after``), moved out of quiet hours by ``settle``; none past the expiry.
    """
    failures = attempts + 1
    if failures >= max_attempts and fallback:
        return AfterFailure(
            MessageStatus.TEMPORARY_FAILURE,
            f"gave up on {channel.value} after {failures} temporary failures: {reason}; "
            "trying the next channel",
            retry_at=now,
            next_channel=True,
        )
    if failures >= max_attempts:
        return AfterFailure(
            MessageStatus.PERMANENT_FAILURE,
            f"gave up after {failures} temporary failures: {reason}",
        )
    retry_at = settle(now + max(backoff, retry_after or timedelta(0)))
    if expires_at is not None and retry_at >= expires_at:
        return AfterFailure(MessageStatus.EXPIRED, f"{reason}; no retry before expiry")
    return AfterFailure(
        MessageStatus.TEMPORARY_FAILURE,
        f"{reason}; retry at {retry_at.isoformat()}",
        retry_at=retry_at,
    )
