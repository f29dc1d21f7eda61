"""Web push (RFC 8030/8291/8292) with pywebpush: encrypted payload, VAPID, explicit lifetimes.

* ``TTL``: how long the push service keeps the message for an offline browser — until the
  message's expiry, so a reminder never pops up after the appointment;
* ``Urgency``: ``high`` for critical messages, ``normal`` otherwise;
* ``Topic``: one per subject, so a newer message about the same appointment replaces an
  undelivered older one on the push service;
* a fresh VAPID claims dict per call: pywebpush writes ``aud`` and ``exp`` into the dict it
  is given, and a shared one would carry one push service's audience to the next.

Answers: 404/410 the subscription is gone (delete it, fall back); 401 our VAPID signature is
refused (the channel stops); 403 is permanent for this subscription (made with another key),
unless :data:`VAPID_REFUSALS` distinct subscriptions answer it in a row: then our key is
wrong and the channel stops; 413 (payload too large) is permanent; 429 and 5xx retry, after
``Retry-After`` when given; network errors retry.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import requests
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush

from notifier.channels.base import (
    Outcome,
    OutgoingMessage,
    SendResult,
    kept_alive,
    parse_retry_after,
)
from notifier.channels.registry import Plugin, register
from notifier.models import Channel
from notifier.settings import Settings

# RFC 8291: 4096-byte record, minus 86 bytes of header and padding delimiter, minus 17 of tag.
MAX_PAYLOAD = 3993
DEFAULT_TTL = 24 * 3600
# 403 from this many distinct subscriptions in a row, none accepted between: our key is wrong
VAPID_REFUSALS = 3


def topic_for(subject: str) -> str:
    """A Topic header value: at most 32 characters of the URL-safe base64 alphabet."""
    digest = hashlib.sha256(subject.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:32]


def generate_vapid_keys() -> tuple[str, str]:
    """A new VAPID key pair: (private key for the settings, public key for the browser)."""
    from cryptography.hazmat.primitives import serialization

    vapid = Vapid02()
    vapid.generate_keys()
    private = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
    public = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return b64(private), b64(public)


def vapid_public_key(private_key: str) -> str:
    """The public key browsers subscribe with (``applicationServerKey``), URL-safe base64."""
    from cryptography.hazmat.primitives import serialization

    public = Vapid02.from_string(private_key=private_key).public_key.public_bytes(
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
    ) -> None:
        if not vapid_subject.startswith(("mailto:", "https://")):
            raise ValueError("the VAPID subject is a mailto: or https: URL of the sender")
        self.vapid = Vapid02.from_string(private_key=vapid_private_key)
        self.subject = vapid_subject
        self.timeout = timeout
        self.clock = clock
        self.session = kept_alive(connections)  # per push service, shared by the send threads
        self._refused: set[str] = set()  # endpoints that answered 403 since the last success

    def send(self, message: OutgoingMessage) -> SendResult:
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
        try:
            response = webpush(
                subscription_info=json.loads(message.address),
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
            if exc.status_code == 403:
                return self._refused_by(json.loads(message.address)["endpoint"])
            return self._classify(exc, self.clock())
        except requests.RequestException as exc:
            return SendResult(Outcome.RETRY, reason=f"push service unreachable: {exc}")
        self._refused.clear()
        location = response.headers.get("Location", "") if hasattr(response, "headers") else ""
        return SendResult(Outcome.SENT, reference=f"webpush:{location or response.status_code}")

    def _refused_by(self, endpoint: str) -> SendResult:
        """A 403: one subscription made with another VAPID key refuses ours (permanent for it),
        or our key is wrong and every subscription will (the channel must stop). RFC 8292
        answers both with 403; several distinct subscriptions in a row tell them apart."""
        self._refused.add(endpoint)
        if len(self._refused) >= VAPID_REFUSALS:
            return SendResult(
                Outcome.MISCONFIGURED,
                reason=f"push service answered 403 for {len(self._refused)} subscriptions in a "
                "row: VAPID credentials refused (check NOTIFIER_VAPID_PRIVATE_KEY)",
            )
        return SendResult(
            Outcome.PERMANENT, reason="push service answered 403: the subscription refuses our key"
        )

    @staticmethod
    def _classify(exc: WebPushException, now: datetime) -> SendResult:
        status = exc.status_code or 0
        reason = f"push service answered {status}"
        if status in (404, 410):
            return SendResult(Outcome.GONE, reason=f"{reason}: the subscription no longer exists")
        if status == 401:  # the push service refused our VAPID signature: every push would fail
            return SendResult(Outcome.MISCONFIGURED, reason=f"{reason}: VAPID credentials refused")
        if status == 429 or status >= 500 or status == 0:
            return SendResult(
                Outcome.RETRY,
                reason=f"{reason}: rate limited" if status == 429 else reason,
                retry_after=parse_retry_after(exc.retry_after, now),
            )
        return SendResult(Outcome.PERMANENT, reason=reason)


def from_settings(settings: Settings) -> WebPushTransport:
    return WebPushTransport(
        settings.vapid_private_key.get_secret_value() if settings.vapid_private_key else "",
        settings.vapid_subject or "",
        timeout=settings.provider_timeout_seconds,
        connections=settings.worker_sends_in_flight,
    )


PLUGIN = register(
    Plugin(
        Channel.WEBPUSH,
        required_parts=("title", "body"),
        optional_parts=("url",),
        configured=lambda s: bool(s.vapid_private_key and s.vapid_subject),
        build=from_settings,
        rate_limit=lambda s: s.rate_limit_webpush_per_second,
    )
)
