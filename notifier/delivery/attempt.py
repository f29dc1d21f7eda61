"""One delivery attempt of one message: choose a channel, render, send, record.

This is the logic of the Dramatiq actor in :mod:`workers.actors`, kept free of Dramatiq so
it can be driven directly in tests. It never raises for an expected outcome (provider error,
missing contact, broken template): each ends in a recorded status. An unexpected exception
propagates so that Dramatiq's retries take over, and the message's claim still fences it.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from jinja2 import TemplateError

from notifier.accessibility import prepare_sms
from notifier.channels.base import Outcome, OutgoingMessage, Transport, already_sent
from notifier.channels.base import call_window as channel_call_window
from notifier.channels.registry import address_of
from notifier.delivery.decisions import RetryPolicy, Skip, after_temporary_failure, skip
from notifier.delivery.ratelimit import ChannelRateLimit
from notifier.links import Links
from notifier.metrics import DeliveryMetrics, lateness_seconds
from notifier.models import (
    Channel,
    MessageStatus,
    Need,
    PlannedMessage,
    Recipient,
    recipient_key,
)
from notifier.rules.engine import next_in_series
from notifier.runtime.clock import utcnow
from notifier.safety import hold, when_safe
from notifier.store import Busy, CapLimit, SendLease, Store, TakenOver
from notifier.store.recipients import RecipientStore
from notifier.templates.context import template_context
from notifier.templates.renderer import Renderer, TemplateMissingError
from notifier.templates.segments import Normalization

log = logging.getLogger(__name__)

# Less time than this before its expiry, a message is not handed to a provider (Twilio's
# shortest validity period is one second).
MIN_LIFETIME = timedelta(seconds=1)


class Deliverer:
    def __init__(
        self,
        store: Store,
        renderer: Renderer,
        transports: Mapping[Channel, Transport],
        *,
        retry: RetryPolicy | None = None,
        recipient_cap: tuple[int, timedelta] | None = (20, timedelta(hours=1)),
        recipients: RecipientStore | None = None,
        rate_limits: Mapping[Channel, ChannelRateLimit] | None = None,
        sms_normalization: Normalization = "gsm",
        send_lease: timedelta = timedelta(seconds=120),
        call_window: timedelta | None = None,
        links: Links | None = None,
        metrics: DeliveryMetrics | None = None,
        clock: Callable[[], datetime] = utcnow,
        stopping: threading.Event | None = None,
        sleep: Callable[[float], object] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        """``stopping``: set when the worker shuts down; a delivery waiting for another
        attempt's provider call then gives up at once (``sleep``, by default, is a wait on it).
        """
        self.store = store
        self.renderer = renderer
        self.transports = transports
        self.retry = retry or RetryPolicy()
        self.recipient_cap = recipient_cap
        self.recipients = recipients
        self.rate_limits = rate_limits or {}
        self.sms_normalization = sms_normalization
        self.send_lease = send_lease
        self.call_window = call_window or channel_call_window(transports.values())
        self.links = links
        self.metrics = metrics
        self.clock = clock
        self.stopping = stopping or threading.Event()
        self.sleep = sleep or self.stopping.wait
        self.rng = rng or random.Random()
        # Channels whose provider refused our configuration (credentials…): every send would
        # fail the same way, so they stop in this process until it restarts, and say so.
        self.stopped: dict[Channel, str] = {}
        store.clear_channels_off([c.value for c in transports])

    def deliver(self, message_id: str, claim: int) -> MessageStatus | None:
        """Attempt ``message_id`` under ``claim``; the final or retry status, None if skipped."""
        attempt = secrets.token_hex(8)
        lease = self._begin(message_id, claim, attempt)
        if lease is None:
            return None
        message = lease.message
        if lease.interrupted_call:
            resumed = self._after_interruption(message, claim, Channel(lease.interrupted_call))
            if resumed is not None:
                return resumed
        now = self.clock()
        if self._expired(message):
            return self._end(message, claim, MessageStatus.EXPIRED, "past its expiry", None)
        # A registered recipient's current contacts and choices win over the planning snapshot.
        recipient = RecipientStore.current(lease.registered, message.recipient)
        message = message.model_copy(update={"recipient": recipient})  # what templates see
        held = hold(now, message, MIN_LIFETIME)
        if held is not None and held.retry_at is not None:
            self.store.finish(
                message_id,
                claim,
                held.status,
                now,
                detail=held.detail,
                retry_at=held.retry_at,
            )
            return held.status
        if held is not None:
            return self._end(message, claim, held.status, held.detail, None)
        tried: list[str] = []
        needs = recipient.needs
        discreet = recipient.safe.discreet or self._watched(recipient)
        for channel in message.channels:
            skipped = skip(
                channel,
                recipient,
                message.category,
                stopped=self.stopped,
                closed=lease.excluded,
                has_transport=channel in self.transports,
            )
            address = address_of(recipient.contacts, channel)
            if skipped is None and channel is Channel.SMS and self._sms_stopped(address):
                skipped = Skip("this number sent STOP: no SMS to it any more")
            if skipped is not None:
                if skipped.noted:
                    self._count(channel, "skipped")
                    self._note_failure(message, channel, f"skipped: {skipped.reason}")
                tried.append(f"{channel.value}: {skipped.reason}")
                continue
            assert address is not None  # skip() said so
            transport = self.transports[channel]
            links = self._links(message.tenant, recipient.id, message.category, channel, discreet)
            try:
                parts = self.renderer.render(
                    message.template,
                    channel,
                    message.recipient.locale,
                    template_context(message, channel, links),
                    easy_read=Need.EASY_READ in needs,
                    discreet=discreet,
                )
            except (TemplateMissingError, TemplateError, ValueError) as exc:
                return self._end(
                    message, claim, MessageStatus.TECHNICAL_FAILURE, f"template: {exc}", channel
                )
            metadata: dict[str, str] = {"critical": "1"} if message.critical else {}
            if channel is Channel.SMS:
                parts["text"], info, problem = prepare_sms(
                    parts["text"], needs, self.sms_normalization
                )
                if problem:
                    self._note_failure(message, channel, f"permanent: {problem}")
                    tried.append(f"{channel.value}: {problem}")
                    continue
                metadata |= {"encoding": info.encoding, "segments": str(info.segments)}
            limit = self.rate_limits.get(channel)
            if limit is not None:
                asked = time.monotonic()
                granted = limit.wait()
                if self.metrics is not None and time.monotonic() - asked > 0.005:
                    self.metrics.rate_limit_waits.labels(channel.value).inc()
                if not granted:
                    return self._wait_for_capacity(message, claim, channel)
            if self._expired(message):  # waiting, or a previous channel, may have taken long
                return self._end(message, claim, MessageStatus.EXPIRED, "past its expiry", channel)
            try:
                full = self.store.provider_call(
                    message.id, claim, attempt, channel.value, self.clock(), self._caps(message)
                )
            except TakenOver:
                log.info("message %s: skipped (a later attempt took it over)", message_id)
                return None
            if full is not None:
                return self._end(
                    message,
                    claim,
                    MessageStatus.CANCELLED,
                    f"cap reached: at most {full.max} per {full.period}",
                    None,
                )
            # a stored push subscription: whether a push to it went through before
            proven = RecipientStore.push_proven(lease.registered, channel, address)
            started = time.monotonic()
            result = transport.send(
                OutgoingMessage(
                    id=message.id,
                    channel=channel,
                    address=address,
                    parts=parts,
                    subject=message.subject,
                    rule=message.rule,
                    expires_at=message.expires_at,
                    category=message.category,
                    metadata=metadata,
                    links=links,
                    recipient=recipient.id,
                    discreet=discreet,
                    proven=bool(proven),
                )
            )
            if self.metrics is not None:
                elapsed = time.monotonic() - started
                self.metrics.call_duration.labels(channel.value).observe(elapsed)
            self._count(channel, result.outcome.value)
            if result.outcome is Outcome.SENT:
                if proven is False and self.recipients is not None:
                    self.recipients.prove_push(message.tenant, recipient.id, address)
                if self.metrics is not None:
                    due = lease.due_at or message.due_at
                    self.metrics.lateness.observe(lateness_seconds(due, self.clock()))
                sizes = (
                    f" ({metadata['encoding']}, {metadata['segments']} segments)"
                    if metadata
                    else ""
                )
                return self._end(
                    message,
                    claim,
                    MessageStatus.SENT,
                    (result.reference or "") + sizes,
                    channel,
                    reference=result.reference or "",
                )
            if result.outcome is Outcome.RETRY:
                later = message.channels[message.channels.index(channel) + 1 :]
                return self._retry(
                    message,
                    claim,
                    lease.attempts,
                    result.reason,
                    channel,
                    result.retry_after,
                    fallback=any(c.value not in lease.excluded for c in later),
                )
            if result.outcome is Outcome.UNKNOWN:
                return self._end(
                    message, claim, MessageStatus.TECHNICAL_FAILURE, result.reason, channel
                )
            self._note_failure(message, channel, f"{result.outcome.value}: {result.reason}")
            if result.outcome is Outcome.MISCONFIGURED:
                self._stop_channel(channel, result.reason)
            if result.outcome is Outcome.GONE and self.recipients is not None:
                self._forget_contact(message.tenant, recipient.id, channel, address)
            tried.append(f"{channel.value}: {result.outcome.value}")
        return self._end(
            message,
            claim,
            MessageStatus.PERMANENT_FAILURE,
            "no channel could deliver (" + "; ".join(tried) + ")",
            None,
        )

    def _begin(self, message_id: str, claim: int, attempt: str) -> SendLease | None:
        """Start the attempt; while another one may be mid-call, wait for it (a few times).

        Giving up is safe: if that other attempt is dead, its lease expires and the scheduler
        claims the message again. A stopping worker gives up at once rather than hold its
        shutdown for up to three call windows.
        """
        for _ in range(3):
            now = self.clock()
            lease = self.store.begin_send(
                message_id,
                claim,
                now,
                lease=self.send_lease,
                attempt=attempt,
                call_window=self.call_window,
            )
            if not isinstance(lease, Busy):
                if lease is None:
                    log.info(
                        "message %s: skipped (cancelled, already sent, or a stale claim)",
                        message_id,
                    )
                return lease
            if not self.stopping.is_set():
                self.sleep(min(lease.wait, self.call_window).total_seconds())
            if self.stopping.is_set():
                log.info("message %s: left to its next claim (this worker is stopping)", message_id)
                return None
        log.info("message %s: skipped (another attempt is calling a provider)", message_id)
        return None

    def _after_interruption(
        self, message: PlannedMessage, claim: int, channel: Channel
    ) -> MessageStatus | None:
        """A worker died during a provider call: find out whether the message went out.

        Sent: record it. Not sent: None, the delivery goes on normally. Unknowable (most
        providers cannot be asked): end as a technical failure rather than risk sending twice.
        """
        transport = self.transports.get(channel)
        found = already_sent(transport, message.id, channel) if transport else None
        if found is False:
            return None
        if found:
            return self._end(
                message,
                claim,
                MessageStatus.SENT,
                f"{found} (found after an interrupted attempt)",
                channel,
                reference=str(found),
            )
        return self._end(
            message,
            claim,
            MessageStatus.TECHNICAL_FAILURE,
            f"a worker stopped during the call to the {channel.value} provider; "
            "it may have been delivered, so it is not sent again",
            channel,
        )

    def _expired(self, message: PlannedMessage) -> bool:
        """Past its expiry, or too close to it for a provider to deliver in time."""
        if message.expires_at is None:
            return False
        return message.expires_at - self.clock() < MIN_LIFETIME

    def _wait_for_capacity(
        self, message: PlannedMessage, claim: int, channel: Channel
    ) -> MessageStatus:
        """The channel stayed at its rate limit: back to the schedule, no attempt spent."""
        retry_at = self.clock() + timedelta(seconds=1)
        self.store.finish(
            message.id,
            claim,
            MessageStatus.SCHEDULED,
            self.clock(),
            detail=f"{channel.value} at its rate limit; waiting",
            channel=channel.value,
            retry_at=retry_at,
        )
        return MessageStatus.SCHEDULED

    def _forget_contact(
        self, tenant: str, recipient_id: str, channel: Channel, address: str
    ) -> None:
        """The provider says this contact is gone: a dead push subscription, an SMS STOP."""
        assert self.recipients is not None
        if channel is Channel.WEBPUSH:
            self.recipients.remove_push(tenant, recipient_id, json.loads(address)["endpoint"])
        else:
            self.recipients.block(tenant, recipient_id, channel)
            if channel is Channel.SMS:
                self.recipients.stop_sms(address, self.clock().timestamp())
        log.info(
            "recipient %s: %s contact removed after the provider's answer",
            recipient_id,
            channel.value,
        )

    def _watched(self, recipient: Recipient) -> bool:
        """One of the person's contacts is a discreet person's, of any tenant: the phone is
        watched, whoever writes to it (one round trip)."""
        return self.recipients is not None and self.recipients.safety.marked(recipient.contacts)

    def _count(self, channel: Channel, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.attempts.labels(channel.value, outcome).inc()

    def _links(
        self, tenant: str, recipient: str, category: str | None, channel: Channel, discreet: bool
    ) -> dict[str, str]:
        """The reader's signed links: their pages (on the neutral host for a discreet
        message, which has no other); one-click unsubscribe for optional news."""
        if self.links is None:
            return {}
        found = {"pages": self.links.pages(tenant, recipient, discreet=discreet)}
        if category and not discreet:
            found["unsubscribe"] = self.links.unsubscribe(
                tenant, recipient, category, channel.value
            )
        return {name: url for name, url in found.items() if url}

    def _sms_stopped(self, address: str | None) -> bool:
        """The number sent STOP (the list is kept by keyed hash, whoever the message is for)."""
        return (
            address is not None
            and self.recipients is not None
            and (self.recipients.sms_stopped(address))
        )

    def _stop_channel(self, channel: Channel, reason: str) -> None:
        """Stop ``channel`` in this process and tell the others (``/healthz`` shows it)."""
        self.stopped[channel] = reason
        self.store.set_channel_off(channel.value, reason, self.clock())
        log.error("%s channel stopped until restart: %s", channel.value, reason)

    def _note_failure(self, message: PlannedMessage, channel: Channel, detail: str) -> None:
        """This channel did not work; the history says why before the next one is tried."""
        self.store.note(message.id, self.clock(), detail, channel)

    def _caps(self, message: PlannedMessage) -> list[CapLimit]:
        recipient = recipient_key(message.tenant, message.recipient.id)  # of its tenant only
        caps = []
        if message.cap is not None:
            most, seconds = message.cap
            caps.append(CapLimit(f"{recipient}:{message.rule}", most, timedelta(seconds=seconds)))
        if self.recipient_cap is not None:
            caps.append(CapLimit(recipient, *self.recipient_cap))
        return caps

    def _end(
        self,
        message: PlannedMessage,
        claim: int,
        status: MessageStatus,
        detail: str,
        channel: Channel | None,
        reference: str = "",
    ) -> MessageStatus:
        """Record a final status; a recurring message's next occurrence is planned with it."""
        self.store.finish(
            message.id,
            claim,
            status,
            self.clock(),
            detail=detail,
            channel=channel.value if channel else "",
            following=next_in_series(message),
            reference=reference,
        )
        log.info(
            "message %s: %s via %s", message.id, status.value, channel.value if channel else "-"
        )
        return status

    def _retry(
        self,
        message: PlannedMessage,
        claim: int,
        attempts: int,
        reason: str,
        channel: Channel,
        retry_after: timedelta | None = None,
        *,
        fallback: bool = False,
    ) -> MessageStatus:
        """Reschedule after a temporary failure, as :func:`after_temporary_failure` decides."""
        now = self.clock()
        decision = after_temporary_failure(
            attempts=attempts,
            max_attempts=self.retry.max_attempts,
            fallback=fallback,
            now=now,
            backoff=self.retry.delay(attempts, self.rng),
            retry_after=retry_after,
            settle=lambda moment: when_safe(moment, message),
            expires_at=message.expires_at,
            reason=reason,
            channel=channel,
        )
        if decision.status is not MessageStatus.TEMPORARY_FAILURE:
            return self._end(message, claim, decision.status, decision.detail, channel)
        self.store.finish(
            message.id,
            claim,
            MessageStatus.TEMPORARY_FAILURE,
            now,
            detail=decision.detail,
            channel=channel.value,
            retry_at=decision.retry_at,
            exclude=channel if decision.next_channel else None,
        )
        log.info(
            "message %s: temporary failure via %s, %s",
            message.id,
            channel.value,
            "next channel" if decision.next_channel else "retry later",
        )
        return MessageStatus.TEMPORARY_FAILURE
