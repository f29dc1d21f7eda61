"""One delivery attempt of one message: choose a channel, render, send, record.

This is the logic of the Dramatiq actor in :mod:`workers.actors`, kept free of Dramatiq so
it can be driven directly in tests. Each step asks :mod:`~notifier.delivery.decisions` for a
verdict; the claim's :class:`~notifier.delivery.acts.Attempt` records the last one. It never
raises for an expected outcome (provider error, missing contact, broken template): each ends
in a recorded status. An unexpected exception propagates so that Dramatiq's retries take
over, and the message's claim still fences it.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from jinja2 import TemplateError

from notifier.channels.base import Outcome, OutgoingMessage, Transport, already_sent
from notifier.channels.base import call_window as channel_call_window
from notifier.channels.registry import address_of, plugin
from notifier.channels.segments import Normalization
from notifier.delivery.acts import Attempt
from notifier.delivery.decisions import (
    GO,
    LEAVE,
    RetryPolicy,
    Step,
    Verdict,
    after_interruption,
    after_send,
    at_rate_limit,
    before_channel,
    capped,
    end,
    expiry,
    held,
    next_channel,
    none_delivered,
)
from notifier.delivery.figures import counts
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
from notifier.runtime.clock import utcnow
from notifier.store import CapLimit, SendLease, Store, TakenOver
from notifier.store.recipients import RecipientStore
from notifier.templates.context import template_context
from notifier.templates.renderer import Renderer, TemplateMissingError

log = logging.getLogger(__name__)


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
        self.figures = counts(metrics)
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
        act = Attempt(self.store, message_id, claim, self.clock)
        lease = act.begin(self.send_lease, self.call_window, self.stopping, self.sleep)
        if lease is None:
            return None
        called = lease.interrupted_call
        verdict = self._resume(lease.message, Channel(called)) if called else GO
        if verdict.step is Step.GO:
            verdict = expiry(self.clock(), lease.message)
        if verdict.step is Step.GO:
            # A registered recipient's current contacts and choices win over the planning
            # snapshot: what the checks, the templates and the next occurrence see.
            recipient = RecipientStore.current(lease.registered, lease.message.recipient)
            act.message = message = lease.message.model_copy(update={"recipient": recipient})
            verdict = held(self.clock(), message)
            if verdict.step is Step.GO:
                verdict = self._send(act, message, lease)
        return act.record(verdict)

    def _resume(self, message: PlannedMessage, channel: Channel) -> Verdict:
        """A worker died during a provider call: ask its transport whether it went out."""
        transport = self.transports.get(channel)
        found = already_sent(transport, message.id, channel) if transport else None
        return after_interruption(found, channel)

    def _send(self, act: Attempt, message: PlannedMessage, lease: SendLease) -> Verdict:
        """The message's channels in turn, until one ends the attempt."""
        tried: list[str] = []
        discreet = message.recipient.safe.discreet or self._watched(lease, message.recipient)
        act.discreet = discreet
        for channel in message.channels:
            verdict = self._on(channel, act, message, lease, discreet)
            if verdict.step is not Step.NEXT:
                return verdict
            if verdict.detail:
                act.note(channel, verdict.detail)
            tried.append(verdict.summary)
        return none_delivered(tried)

    def _on(
        self,
        channel: Channel,
        act: Attempt,
        message: PlannedMessage,
        lease: SendLease,
        discreet: bool,
    ) -> Verdict:
        """Try ``channel``: its checks, the message prepared for it, the provider call."""
        recipient = message.recipient
        verdict = before_channel(
            channel,
            recipient,
            message.category,
            stopped=self.stopped,
            closed=lease.excluded,
            has_transport=channel in self.transports,
            number_stopped=self._sms_stopped,
            discreet=discreet,
            push_origin=RecipientStore.push_origin(
                lease.registered, channel, address_of(recipient.contacts, channel)
            ),
            neutral_host=self.links.discreet_host if self.links else None,
        )
        if verdict.step is Step.NEXT:
            if verdict.detail:
                self.figures.attempt(channel, "skipped")
            return verdict
        links = self._links(message, channel, discreet)
        parts = self._render(message, channel, links, discreet)
        if isinstance(parts, Verdict):
            return parts
        metadata: dict[str, str] = {"critical": "1"} if message.critical else {}
        sizes = ""
        prepare = plugin(channel).prepare
        if prepare is not None:
            prepared = prepare(parts, recipient.needs, self.sms_normalization)
            if prepared.problem:
                return next_channel(channel, prepared.problem, f"permanent: {prepared.problem}")
            parts, metadata = prepared.parts, metadata | prepared.metadata
            sizes = f" ({prepared.sizes})" if prepared.sizes else ""
        address = address_of(recipient.contacts, channel)
        assert address is not None  # before_channel said so
        outgoing = OutgoingMessage(
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
            # a stored push subscription: whether a push to it went through before
            proven=bool(RecipientStore.push_proven(lease.registered, channel, address)),
        )
        return self._call(act, outgoing, message, lease, sizes)

    def _render(
        self, message: PlannedMessage, channel: Channel, links: dict[str, str], discreet: bool
    ) -> dict[str, str] | Verdict:
        """The message's parts for ``channel``, in the reader's words; a template error ends
        the attempt."""
        try:
            return self.renderer.render(
                message.template,
                channel,
                message.recipient.locale,
                template_context(message, channel, links),
                easy_read=Need.EASY_READ in message.recipient.needs,
                discreet=discreet,
            )
        except (TemplateMissingError, TemplateError, ValueError) as exc:
            return end(MessageStatus.TECHNICAL_FAILURE, f"template: {exc}", channel)

    def _call(
        self,
        act: Attempt,
        outgoing: OutgoingMessage,
        message: PlannedMessage,
        lease: SendLease,
        sizes: str,
    ) -> Verdict:
        """Within the rate limit, before the expiry, under the caps: send, and judge the answer."""
        channel = outgoing.channel
        if not self._within_rate_limit(channel):
            return at_rate_limit(self.clock(), channel)
        verdict = expiry(self.clock(), message, channel)  # waiting, or a channel, took long
        if verdict.step is Step.GO:
            try:
                verdict = capped(act.mark(channel, self._caps(message)))
            except TakenOver:
                return LEAVE
        if verdict.step is not Step.GO:
            return verdict
        started = time.monotonic()
        result = self.transports[channel].send(outgoing)
        self.figures.call(channel, time.monotonic() - started)
        self.figures.attempt(channel, result.outcome.value)
        if result.outcome is Outcome.SENT:
            self.figures.late(lateness_seconds(lease.due_at or message.due_at, self.clock()))
            if RecipientStore.push_proven(lease.registered, channel, outgoing.address) is False:
                self._prove_push(message, outgoing.address)
        later = message.channels[message.channels.index(channel) + 1 :]
        verdict = after_send(
            result,
            channel,
            message,
            now=self.clock(),
            attempts=lease.attempts,
            fallback=any(c.value not in lease.excluded for c in later),
            policy=self.retry,
            rng=self.rng,
            sizes=sizes,
        )
        if result.outcome is Outcome.MISCONFIGURED:
            self._stop_channel(channel, result.reason)
        if result.outcome is Outcome.GONE and self.recipients is not None:
            self._forget_contact(message.tenant, message.recipient.id, channel, outgoing.address)
        return verdict

    def _within_rate_limit(self, channel: Channel) -> bool:
        """Wait for the channel's shared rate limit; False if it stayed full."""
        limit = self.rate_limits.get(channel)
        if limit is None:
            return True
        asked = time.monotonic()
        granted = limit.wait()
        if time.monotonic() - asked > 0.005:
            self.figures.rate_limit_wait(channel)
        return granted

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

    def _prove_push(self, message: PlannedMessage, address: str) -> None:
        """A stored push subscription took our key: its refusals may count from now on."""
        if self.recipients is not None:
            self.recipients.prove_push(message.tenant, message.recipient.id, address)

    def _watched(self, lease: SendLease, recipient: Recipient) -> bool:
        """One of the person's contacts is a discreet person's, of any tenant: the phone is
        watched, whoever writes to it. The lease says (``begin_send`` reads the marks for
        the contacts' keyed hashes kept with the records); asked apart, one round trip, only
        for a record that keeps none (written before they were kept)."""
        if lease.watched is not None:
            return lease.watched
        return self.recipients is not None and self.recipients.safety.marked(recipient.contacts)

    def _links(self, message: PlannedMessage, channel: Channel, discreet: bool) -> dict[str, str]:
        """The reader's signed links: their pages (on the neutral host for a discreet
        message, which has no other); one-click unsubscribe for optional news. None at all
        when the message is discreet only because another tenant's discreet person uses this
        contact: this tenant's pages for them ask no code, and would show what it sent."""
        if self.links is None or (discreet and not message.recipient.safe.discreet):
            return {}
        tenant, recipient = message.tenant, message.recipient.id
        found = {"pages": self.links.pages(tenant, recipient, discreet=discreet)}
        if message.category and not discreet:
            found["unsubscribe"] = self.links.unsubscribe(
                tenant, recipient, message.category, channel.value
            )
        return {name: url for name, url in found.items() if url}

    def _sms_stopped(self, number: str) -> bool:
        """The number sent STOP (the list is kept by keyed hash, whoever the message is for)."""
        return self.recipients is not None and self.recipients.sms_stopped(number)

    def _stop_channel(self, channel: Channel, reason: str) -> None:
        """Stop ``channel`` in this process and tell the others (``/healthz`` shows it)."""
        self.stopped[channel] = reason
        self.store.set_channel_off(channel.value, reason, self.clock())
        log.error("%s channel stopped until restart: %s", channel.value, reason)

    def _caps(self, message: PlannedMessage) -> list[CapLimit]:
        recipient = recipient_key(message.tenant, message.recipient.id)  # of its tenant only
        caps = []
        if message.cap is not None:
            most, seconds = message.cap
            caps.append(CapLimit(f"{recipient}:{message.rule}", most, timedelta(seconds=seconds)))
        if self.recipient_cap is not None:
            caps.append(CapLimit(recipient, *self.recipient_cap))
        return caps
