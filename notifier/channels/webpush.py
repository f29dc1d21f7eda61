"""Web push (RFC 8030/8291/8292) with pywebpush: encrypted payload, VAPID, explicit lifetimes.

* ``TTL``: how long the push service keeps the message for an offline browser — until the
  message's expiry, so a reminder never pops up after the appointment;
* ``Urgency``: ``high`` for critical messages, ``normal`` otherwise;
* ``Topic``: one per subject, so a newer message about the same appointment replaces an
  undelivered older one on the push service;
* a fresh VAPID claims dict per call: pywebpush writes ``aud`` and ``exp`` into the dict it
  is given, and a shared one would carry one push service's audience to the next.

An endpoint that is not on an allowed push service (:func:`notifier.urls.push_endpoint_problem`)
is never called: the subscription is gone. Redirects are not followed.

Answers: 404/410 the subscription is gone (delete it, fall back); 401 and 403 refuse our VAPID
authentication for this subscription (permanent for it: made with another key, or a push
service that will not take us). One subscription's answer never stops the channel, whatever
it says: only :data:`VAPID_REFUSALS` subscriptions of distinct recipients refused in a row by
the same push service, none accepted by it between, show that our key is wrong, and stop it —
and only subscriptions that accepted our key before count (``proven``: a push to them went
through, marked on the stored subscription), so that real subscriptions made with someone
else's key, which refuse us from the start, never can.
413 (payload too large) and other 4xx and 3xx are permanent; 429 and 5xx retry, after
``Retry-After`` when given; network errors retry.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import requests
from pydantic import Field, SecretStr, field_validator

from notifier.channels.base import (
    Outcome,
    OutgoingMessage,
    SendResult,
    kept_alive,
    parse_retry_after,
)
from notifier.channels.registry import ChannelSettings, Plugin, register
from notifier.models import Channel, Need
from notifier.urls import PUSH_SERVICES, push_endpoint_problem, push_entry_problem

if TYPE_CHECKING:  # the SDK is imported when a transport or key is made: not by the registry
    from pywebpush import WebPushException

    from notifier.runtime.settings import Settings

# RFC 8291: 4096-byte record, minus 86 bytes of header and padding delimiter, minus 17 of tag.
MAX_PAYLOAD = 3993
DEFAULT_TTL = 24 * 3600
# 401/403 from one push service for this many recipients' subscriptions in a row, none accepted
# by it between: our key is wrong (one subscription, or one person, can never tell that)
VAPID_REFUSALS = 3
REFUSED = "push service answered {}: the subscription refuses our key"


class WebPushSettings(ChannelSettings):
    vapid_private_key: SecretStr | None = Field(
        default=None,
        description="VAPID private key (`notifier vapid generate`); with the subject, web push "
        "goes to the browsers' push services.",
    )
    vapid_subject: str | None = Field(
        default=None, description="VAPID contact: mailto: or https: URL of the sender."
    )
    push_allowed_hosts: list[str] = Field(
        default=list(PUSH_SERVICES),
        description="Push services whose subscriptions are accepted and called, as JSON: a "
        "host, or *.suffix for any host under it (https only). A loopback push service (tests, "
        'development) is named "http://127.0.0.1"; never needed in production.',
    )
    rate_limit_webpush_per_second: int = Field(
        default=100, description="Web pushes sent per second, all workers together (0: no limit)."
    )

    @field_validator("push_allowed_hosts")
    @classmethod
    def _push_hosts(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            problem = push_entry_problem(entry)
            if problem is not None:
                raise ValueError(f"{entry!r}: {problem}")
        return entries


def topic_for(subject: str) -> str:
    """A Topic header value: at most 32 characters of the URL-safe base64 alphabet."""
    digest = hashlib.sha256(subject.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:32]


def generate_vapid_keys() -> tuple[str, str]:
    """A new VAPID key pair: (private key for the settings, public key for the browser)."""
    from cryptography.hazmat.primitives import serialization
    from py_vapid import Vapid02

    vapid = Vapid02()
    vapid.generate_keys()
    private = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
    public = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return b64(private), b64(public)


def application_server_key(settings: Settings) -> str | None:
    """The public key browsers subscribe with (``applicationServerKey``), URL-safe base64;
    None without NOTIFIER_VAPID_PRIVATE_KEY."""
    private = WebPushSettings.of(settings).vapid_private_key
    if private is None:
        return None
    from cryptography.hazmat.primitives import serialization
    from py_vapid import Vapid02

    public = Vapid02.from_string(private_key=private.get_secret_value()).public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(public).decode().rstrip("=")


class WebPushTransport:
    def __init__(
        self,
        vapid_private_key: str,
        vapid_subject: str,
        *,
        timeout: float = 10.0,
        connections: int = 100,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        allowed_hosts: Iterable[str] = PUSH_SERVICES,
    ) -> None:
        if not vapid_subject.startswith(("mailto:", "https://")):
            raise ValueError("the VAPID subject is a mailto: or https: URL of the sender")
        from py_vapid import Vapid02

        self.vapid = Vapid02.from_string(private_key=vapid_private_key)
        self.subject = vapid_subject
        self.timeout = timeout
        self.clock = clock
        self.allowed_hosts = tuple(allowed_hosts)
        self.session = kept_alive(connections)  # per push service, shared by the send threads
        self.session.max_redirects = 0  # a redirect is refused, never followed
        # push service → recipients whose subscriptions it refused since it last accepted one
        self._refused: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> SendResult:
        subscription = json.loads(message.address)
        endpoint = str(subscription.get("endpoint", ""))
        problem = push_endpoint_problem(endpoint, self.allowed_hosts)
        if problem is not None:  # stored before the check, or the setting changed since
            return SendResult(Outcome.GONE, reason=f"push endpoint {problem}: not called")
        payload = json.dumps(
            {"title": message.parts["title"], "body": message.parts["body"]}
            | ({"url": message.parts["url"]} if "url" in message.parts else {})
            | {"tag": topic_for(message.subject)},
            ensure_ascii=False,
        )
        if len(payload.encode()) > MAX_PAYLOAD:
            return SendResult(Outcome.PERMANENT, reason=f"payload over {MAX_PAYLOAD} bytes")
        ttl = DEFAULT_TTL
        if message.expires_at is not None:
            ttl = int((message.expires_at - self.clock()) / timedelta(seconds=1))
            if ttl < 1:
                return SendResult(Outcome.PERMANENT, reason="expired before it could be sent")
        from pywebpush import WebPushException, webpush

        service = _service(endpoint)
        try:
            response = webpush(
                subscription_info=subscription,
                data=payload,
                vapid_private_key=self.vapid,
                vapid_claims={"sub": self.subject},  # a fresh dict each call: pywebpush mutates it
                requests_session=self.session,
                ttl=ttl,
                timeout=self.timeout,
                headers={
                    "Urgency": "high" if message.metadata.get("critical") else "normal",
                    "Topic": topic_for(message.subject),
                },
            )
        except WebPushException as exc:
            if exc.status_code in (401, 403) and message.proven:
                return self._refused_by(service, message.recipient or endpoint, exc.status_code)
            if exc.status_code in (401, 403):  # it never took our key: says nothing about it
                return SendResult(Outcome.PERMANENT, reason=REFUSED.format(exc.status_code))
            return self._classify(exc, self.clock())
        except requests.TooManyRedirects:
            return SendResult(Outcome.PERMANENT, reason="push service redirected: not followed")
        except requests.RequestException as exc:
            return SendResult(Outcome.RETRY, reason=f"push service unreachable: {exc}")
        with self._lock:
            self._refused.pop(service, None)
        location = response.headers.get("Location", "") if hasattr(response, "headers") else ""
        return SendResult(Outcome.SENT, reference=f"webpush:{location or response.status_code}")

    def _refused_by(self, service: str, recipient: str, status: int) -> SendResult:
        """A 401/403: this subscription refuses our VAPID authentication (made with another
        key, or an endpoint that will not take us: permanent for it), or our key is wrong and
        every subscription will (the channel must stop). Only the same push service refusing
        several people's subscriptions in a row tells the second apart: never one answer."""
        with self._lock:
            refused = self._refused.setdefault(service, set())
            refused.add(recipient)
            count = len(refused)
        if count >= VAPID_REFUSALS:
            return SendResult(
                Outcome.MISCONFIGURED,
                reason=f"push service answered {status} for {count} recipients' subscriptions "
                "in a row: VAPID credentials refused (check NOTIFIER_VAPID_PRIVATE_KEY)",
            )
        return SendResult(Outcome.PERMANENT, reason=REFUSED.format(status))

    @staticmethod
    def _classify(exc: WebPushException, now: datetime) -> SendResult:
        status = exc.status_code or 0
        reason = f"push service answered {status}"
        if status in (404, 410):
            return SendResult(Outcome.GONE, reason=f"{reason}: the subscription no longer exists")
        if status == 429 or status >= 500 or status == 0:
            return SendResult(
                Outcome.RETRY,
                reason=f"{reason}: rate limited" if status == 429 else reason,
                retry_after=parse_retry_after(exc.retry_after, now),
            )
        return SendResult(Outcome.PERMANENT, reason=reason)


def _service(endpoint: str) -> str:
    """The push service of an endpoint: its scheme, host and port."""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


def configured(settings: Settings) -> bool:
    own = WebPushSettings.of(settings)
    return bool(own.vapid_private_key and own.vapid_subject)


def from_settings(settings: Settings) -> WebPushTransport:
    own = WebPushSettings.of(settings)
    return WebPushTransport(
        own.vapid_private_key.get_secret_value() if own.vapid_private_key else "",
        own.vapid_subject or "",
        timeout=settings.provider_timeout_seconds,
        connections=settings.worker_sends_in_flight,
        allowed_hosts=own.push_allowed_hosts,
    )


PLUGIN = register(
    Plugin(
        Channel.WEBPUSH,
        address=lambda c: c.push.model_dump_json() if c.push else None,
        shown=None,  # a device, not a contact detail to list
        excluded_by={Need.NO_SMARTPHONE: "no web push for a recipient without a smartphone"},
        labels={
            "fr": {
                "channel": "Notification sur cet appareil",
                "preferences.unreachable": "aucun appareil n'est activé",
            },
            "en": {
                "channel": "Notification on this device",
                "preferences.unreachable": "no device is turned on",
            },
        },
        required_parts=("title", "body"),
        optional_parts=("url",),
        settings=WebPushSettings,
        configured=configured,
        build=from_settings,
        rate_limit=lambda s: WebPushSettings.of(s).rate_limit_webpush_per_second,
    )
)
