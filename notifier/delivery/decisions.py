"""The delivery's decisions, as pure functions returning one :class:`Verdict`: before the
send (expiry, quiet and safe hours, pause), for each channel (safety, needs, choices, the
STOP list), before the provider call (expiry, caps), after it (the provider's outcome →
sent, retry, next channel, final) and after an interrupted call; how long to back off
(random, from the generator it is given). :class:`notifier.delivery.attempt.Deliverer`
carries them out (Redis, providers); tests/test_routing.py (the channels, the retries) and
tests/test_delivery_decisions.py (the verdicts) hold them to tables.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from notifier.accessibility import excluded_channel
from notifier.channels.base import Outcome, SendResult
from notifier.channels.registry import address_of
from notifier.models import Channel, MessageStatus, PlannedMessage, Recipient
from notifier.safety import hold, unsafe_channel, when_safe
from notifier.store import CapLimit

# Less time than this before its expiry, a message is not handed to a provider (Twilio's
# shortest validity period is one second).
MIN_LIFETIME = timedelta(seconds=1)
STOPPED_NUMBER = "this number sent STOP: no SMS to it any more"
SHOWS_ITS_SITE = (
    "this browser shows with each notification the address of the site it subscribed on, "
    "which may name the sender: not used for discreet messages"
)


class Step(Enum):
    GO = "go"  # carry on: send on this channel, or deliver as usual
    NEXT = "next"  # not on this channel: try the next one
    END = "end"  # record ``status``: the attempt is over
    LEAVE = "leave"  # record nothing: a later attempt of the claim owns the message


@dataclass(frozen=True)
class Verdict:
    """One decision of an attempt, for the acts to carry out.

    ``END``: record ``status`` with ``detail`` (via ``channel``, with the provider's
    ``reference``): final, or back in the schedule at ``retry_at`` (``exclude``: without
    ``channel``, its retries ran out). ``NEXT``: ``summary`` goes in the final tally if no
    channel delivers; ``detail``, when there is one, in the history at once.
    """

    step: Step
    status: MessageStatus | None = None
    detail: str = ""
    channel: Channel | None = None
    retry_at: datetime | None = None
    reference: str = ""
    exclude: bool = False
    summary: str = ""


GO = Verdict(Step.GO)
LEAVE = Verdict(Step.LEAVE)


def end(
    status: MessageStatus,
    detail: str,
    channel: Channel | None = None,
    *,
    retry_at: datetime | None = None,
    reference: str = "",
    exclude: bool = False,
) -> Verdict:
    return Verdict(Step.END, status, detail, channel, retry_at, reference, exclude)


def next_channel(channel: Channel, summary: str, detail: str = "") -> Verdict:
    return Verdict(Step.NEXT, detail=detail, channel=channel, summary=f"{channel.value}: {summary}")


def expiry(now: datetime, message: PlannedMessage, channel: Channel | None = None) -> Verdict:
    """Past its expiry, or too close to it for a provider to deliver in time: expired."""
    if message.expires_at is not None and message.expires_at - now < MIN_LIFETIME:
        return end(MessageStatus.EXPIRED, "past its expiry", channel)
    return GO


def held(now: datetime, message: PlannedMessage) -> Verdict:
    """The person's settings or the rule's quiet hours keep it: withheld, deferred, expired."""
    kept = hold(now, message, MIN_LIFETIME)
    if kept is None:
        return GO
    return end(kept.status, kept.detail, retry_at=kept.retry_at)


def at_rate_limit(now: datetime, channel: Channel) -> Verdict:
    """The channel stayed at its rate limit: back to the schedule, no attempt spent."""
    return end(
        MessageStatus.SCHEDULED,
        f"{channel.value} at its rate limit; waiting",
        channel,
        retry_at=now + timedelta(seconds=1),
    )


def capped(full: CapLimit | None) -> Verdict:
    """The provider call's mark found a cap reached: cancelled."""
    if full is None:
        return GO
    return end(MessageStatus.CANCELLED, f"cap reached: at most {full.max} per {full.period}")


def none_delivered(tried: list[str]) -> Verdict:
    return end(
        MessageStatus.PERMANENT_FAILURE, "no channel could deliver (" + "; ".join(tried) + ")"
    )


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


def shows_its_site(channel: Channel, origin: str | None, neutral_host: str | None) -> str | None:
    """Why ``channel`` must not carry a discreet message to this push subscription: a
    browser shows, with each notification (on a lock screen too), the site it subscribed on.
    Only a subscription made on the pages' neutral host (``neutral_host``, that of
    ``NOTIFIER_DISCREET_PUBLIC_URL``) may; one made on the service's own host, or whose
    origin is unknown (given through the API or in an event), may not. None if it may."""
    if channel is not Channel.WEBPUSH:
        return None
    if origin is not None and origin == neutral_host:
        return None
    return SHOWS_ITS_SITE


def before_channel(
    channel: Channel,
    recipient: Recipient,
    category: str | None,
    *,
    stopped: Mapping[Channel, str],
    closed: frozenset[str],
    has_transport: bool,
    number_stopped: Callable[[str], bool],
    discreet: bool = False,
    push_origin: str | None = None,
    neutral_host: str | None = None,
) -> Verdict:
    """Whether ``channel`` is tried: :func:`skip`'s reasons, then for a ``discreet`` message
    a push subscription whose notifications would show the service's site
    (:func:`shows_its_site`), then an SMS number that sent STOP (``number_stopped`` asks
    the list, only when all else allows the channel)."""
    skipped = skip(
        channel, recipient, category, stopped=stopped, closed=closed, has_transport=has_transport
    )
    if skipped is None and discreet:
        shown = shows_its_site(channel, push_origin, neutral_host)
        skipped = Skip(shown) if shown else None
    if skipped is None and channel is Channel.SMS:
        number = address_of(recipient.contacts, channel)
        skipped = Skip(STOPPED_NUMBER) if number and number_stopped(number) else None
    if skipped is None:
        return GO
    noted = f"skipped: {skipped.reason}" if skipped.noted else ""  # else only in the tally
    return next_channel(channel, skipped.reason, noted)


def after_send(
    result: SendResult,
    channel: Channel,
    message: PlannedMessage,
    *,
    now: datetime,
    attempts: int,
    fallback: bool,
    policy: RetryPolicy,
    rng: random.Random,
    sizes: str = "",
) -> Verdict:
    """What the provider's answer leads to: sent (``sizes`` added to its detail); a retry
    (:func:`after_temporary_failure`; ``fallback``: a later channel is still open); the
    next channel; or, when the provider may have sent it, a technical failure."""
    if result.outcome is Outcome.SENT:
        reference = result.reference or ""
        return end(MessageStatus.SENT, reference + sizes, channel, reference=reference)
    if result.outcome is Outcome.UNKNOWN:
        return end(MessageStatus.TECHNICAL_FAILURE, result.reason, channel)
    if result.outcome is not Outcome.RETRY:
        outcome = result.outcome.value
        return next_channel(channel, outcome, f"{outcome}: {result.reason}")
    decision = after_temporary_failure(
        attempts=attempts,
        max_attempts=policy.max_attempts,
        fallback=fallback,
        now=now,
        backoff=policy.delay(attempts, rng),
        retry_after=result.retry_after,
        settle=lambda moment: when_safe(moment, message),
        expires_at=message.expires_at,
        reason=result.reason,
        channel=channel,
    )
    return end(
        decision.status,
        decision.detail,
        channel,
        retry_at=decision.retry_at,
        exclude=decision.next_channel,
    )


def after_interruption(found: str | bool | None, channel: Channel) -> Verdict:
    """A worker died during a provider call; ``found``: what the provider says of it.

    Sent (its reference): record it. Not sent (False): deliver as usual. Unknowable (None,
    most providers cannot be asked): a technical failure rather than risk sending twice.
    """
    if found is False:
        return GO
    if found:
        return end(
            MessageStatus.SENT,
            f"{found} (found after an interrupted attempt)",
            channel,
            reference=str(found),
        )
    return end(
        MessageStatus.TECHNICAL_FAILURE,
        f"a worker stopped during the call to the {channel.value} provider; "
        "it may have been delivered, so it is not sent again",
        channel,
    )
