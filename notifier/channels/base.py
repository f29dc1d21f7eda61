"""The one small interface every delivery channel implements.

A channel takes a rendered message and a contact and reports how the attempt ended; the
delivery worker, not the channel, decides what happens next (retry, fall back, give up).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Protocol

import requests
from requests.adapters import HTTPAdapter

from notifier.models import Channel


class Outcome(StrEnum):
    SENT = "sent"  # accepted by the provider; ``reference`` identifies it there
    RETRY = "retry"  # temporary: try again later (``retry_after`` if the provider said)
    PERMANENT = "permanent"  # this contact will not work for this message
    GONE = "gone"  # the contact no longer exists (e.g. an expired push subscription)
    MISCONFIGURED = "misconfigured"  # our side is wrong (credentials…): the channel stops
    UNKNOWN = "unknown"  # the provider may or may not have sent it: do not send again


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    reference: str | None = None
    reason: str = ""
    retry_after: timedelta | None = None


@dataclass(frozen=True)
class OutgoingMessage:
    """What a channel needs to send one message, already rendered."""

    id: str
    channel: Channel
    address: str
    parts: dict[str, str]
    subject: str
    rule: str
    expires_at: datetime | None = None
    category: str | None = None  # an optional kind of news the citizen may opt out of
    metadata: dict[str, str] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)  # signed: pages, unsubscribe
    recipient: str = ""  # the recipient's id: tells one person's answers from many people's
    discreet: bool = False  # the person's safety: from a neutral sender, nothing revealing
    proven: bool = False  # this address took a message of ours before (a stored push subscription)


class Transport(Protocol):
    """Sends on one or more channels; ``send`` must not raise for provider errors."""

    timeout: float  # seconds one step of a send may take before it is abandoned

    def send(self, message: OutgoingMessage) -> SendResult: ...


def kept_alive(connections: int) -> requests.Session:
    """An HTTP session keeping up to ``connections`` connections alive per host, shared by
    the send threads (requests' default keeps 10: the others would be opened per call)."""
    session = requests.Session()
    for scheme in ("https://", "http://"):
        session.mount(scheme, HTTPAdapter(pool_connections=4, pool_maxsize=connections))
    return session


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """An HTTP ``Retry-After`` (RFC 9110: seconds, or an HTTP date) as a delay from ``now``;
    None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(when - now, timedelta(0))


def call_window(transports: Iterable[Transport]) -> timedelta:
    """How long after it started a provider call may still be under way, at most.

    Twice the longest timeout (an SMTP send is several steps, each with the timeout), plus a
    second: a redelivered message waits this long before concluding the call was abandoned.
    """
    return timedelta(seconds=2 * max((t.timeout for t in transports), default=0.0) + 1)


def already_sent(transport: Transport, message_id: str, channel: Channel) -> str | bool | None:
    """Ask a transport whether an interrupted send of this message went through.

    A transport that can tell implements ``lookup(message_id, channel)``, returning the
    provider reference if it was sent, or False if it was not. None: it cannot tell.
    """
    lookup = getattr(transport, "lookup", None)
    return None if lookup is None else lookup(message_id, channel)
