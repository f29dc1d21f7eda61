"""SMS through Twilio's Messages API, with every error sorted into what to do next.

Twilio's error codes (https://www.twilio.com/docs/api/errors) fall into three groups here:

* this number will not work (invalid, not a mobile, unsubscribed with STOP…): permanent for
  this contact; the worker falls back to the next channel;
* our configuration is wrong (bad credentials, sender not allowed for the country): retrying
  cannot help and would hit the same wall for every message: the worker stops the channel
  (see :class:`notifier.delivery.attempt.Deliverer`);
* temporary (rate limited, Twilio unavailable, network down before the request was sent):
  retry later, after the ``Retry-After`` Twilio gives with a 429 or 503.

A timeout *after* the request was sent is ambiguous — Twilio may have accepted it — and the
API has no idempotency key, so the message is not resent blindly: it ends as unknown.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import phonenumbers
import requests
from pydantic import Field, SecretStr

from notifier.channels.base import (
    Outcome,
    OutgoingMessage,
    SendResult,
    kept_alive,
    parse_retry_after,
)
from notifier.channels.receipts import Receipt, ReceiptRefused, Receipts
from notifier.channels.registry import ChannelSettings, Plugin, Prepared, register
from notifier.channels.segments import Normalization, analyze, normalize
from notifier.models import Channel, Need
from notifier.phones import is_mobile

if TYPE_CHECKING:  # the SDK is imported when a transport sends: not by the registry
    from twilio.base.exceptions import TwilioRestException
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    from notifier.runtime.settings import Settings

log = logging.getLogger(__name__)
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)  # it logs request bodies

PERMANENT = {
    21211: "invalid 'To' number",
    21614: "'To' is not a mobile number",
    21610: "the recipient unsubscribed (STOP)",
    21635: "'To' cannot receive SMS from this sender",
    21612: "'To' is not reachable from this sender",
}
CONFIGURATION = {
    20003: "authentication failed: check the account SID and auth token",
    21408: "sending to this region is not enabled on the Twilio account",
    21606: "the 'From' sender is not allowed to send SMS",
}
OPT_OUT = 21610
TWILIO_API = "https://api.twilio.com"
# Twilio accepts a validity period of 1 to 36 000 seconds (10 hours).
MAX_VALIDITY = 36_000
BASIC_PHONE_MAX_SEGMENTS = 2


class TwilioSettings(ChannelSettings):
    twilio_account_sid: str | None = Field(
        default=None, description="Twilio account SID; with the auth token, SMS go through Twilio."
    )
    twilio_auth_token: SecretStr | None = Field(default=None, description="Twilio auth token.")
    twilio_from: str | None = Field(
        default=None,
        description="SMS sender: an alphanumeric name such as GENDARMERIE (French rules forbid "
        "06/07 numbers as senders of automated SMS).",
    )
    twilio_discreet_from: str | None = Field(
        default=None,
        description="Neutral SMS sender for people with discreet messages (a plain number or a "
        "sender name that names no service). Unset: they get no SMS, the next channel is tried.",
    )
    twilio_messaging_service_sid: str | None = Field(
        default=None, description="Twilio Messaging Service SID, instead of NOTIFIER_TWILIO_FROM."
    )
    twilio_status_callback_url: str | None = Field(
        default=None,
        description="Public URL of POST /v1/callbacks/twilio, for delivery receipts.",
    )
    twilio_api_base_url: str = Field(
        default=TWILIO_API, description="Twilio API base URL (a regional edge)."
    )
    rate_limit_sms_per_second: int = Field(
        default=10, description="SMS sent per second, all workers together (0: no limit)."
    )


@cache
def rebased_http_client() -> type[TwilioHttpClient]:
    """The class of twilio's HTTP client that :class:`TwilioSmsTransport` uses, made on first
    use so that importing this module (the registry does) does not import twilio."""
    from twilio.http.http_client import TwilioHttpClient
    from twilio.http.response import Response

    class RebasedHttpClient(TwilioHttpClient):
        """Sends Twilio's requests to another base URL (a regional edge, a proxy, a test server)
        over a shared ``requests.Session``.

        One per thread: twilio's client keeps the answer it returns in an attribute
        (``_test_only_last_response``), so two threads sharing one could swap answers. The
        session, its pool of kept-alive connections, is shared.
        """

        def __init__(self, base_url: str, timeout: float, session: requests.Session) -> None:
            super().__init__(timeout=timeout, pool_connections=False)
            self.session = session
            self.base_url = base_url.rstrip("/")
            # The twilio client drops response headers from its errors: the Retry-After of a 429
            # is kept here.
            self.retry_after: str | None = None

        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
            if url.startswith(TWILIO_API):
                url = self.base_url + url[len(TWILIO_API) :]
            self.retry_after = None
            response = super().request(method, url, *args, **kwargs)
            self.retry_after = (response.headers or {}).get("Retry-After")
            return response

    return RebasedHttpClient


class TwilioSmsTransport:
    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        sender: str | None = None,
        discreet_sender: str | None = None,
        messaging_service_sid: str | None = None,
        status_callback: str | None = None,
        api_base_url: str = TWILIO_API,
        timeout: float = 10.0,
        connections: int = 100,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not sender and not messaging_service_sid:
            raise ValueError("Twilio needs a sender (From) or a Messaging Service SID")
        self.credentials = (account_sid, auth_token)
        self.api_base_url = api_base_url
        self.session = kept_alive(connections)
        self.clients = threading.local()
        self.timeout = timeout
        self.sender = sender
        self.discreet_sender = discreet_sender
        self.messaging_service_sid = messaging_service_sid
        self.status_callback = status_callback
        self.clock = clock

    def client(self) -> Client:
        """This thread's twilio client (see :func:`rebased_http_client`)."""
        from twilio.rest import Client

        client: Client | None = getattr(self.clients, "client", None)
        if client is None:
            http = rebased_http_client()(self.api_base_url, self.timeout, self.session)
            client = self.clients.client = Client(*self.credentials, http_client=http)
        return client

    def send(self, message: OutgoingMessage) -> SendResult:
        params: dict[str, Any] = {"to": message.address, "body": message.parts["text"]}
        if message.discreet:  # a neutral sender, never the service's
            if not self.discreet_sender:
                return SendResult(Outcome.PERMANENT, reason=NO_DISCREET_SENDER)
            params["from_"] = self.discreet_sender
        elif self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        else:
            params["from_"] = self.sender
        if self.status_callback:
            params["status_callback"] = f"{self.status_callback}?message_id={message.id}"
        if message.expires_at is not None:
            seconds = int((message.expires_at - self.clock()).total_seconds())
            if seconds < 1:
                return SendResult(Outcome.PERMANENT, reason="expired before it could be sent")
            params["validity_period"] = min(seconds, MAX_VALIDITY)
        from twilio.base.exceptions import TwilioException, TwilioRestException

        try:
            sent = self.client().messages.create(**params)
        except TwilioRestException as exc:
            return self._classify(exc)
        except requests.ConnectTimeout as exc:
            return SendResult(Outcome.RETRY, reason=f"could not connect to Twilio: {exc}")
        except requests.Timeout:
            return SendResult(
                Outcome.UNKNOWN,
                reason="Twilio did not answer after the request was sent; it may have been "
                "delivered, so it is not resent",
            )
        except requests.ConnectionError as exc:
            return SendResult(Outcome.RETRY, reason=f"network error before sending: {exc}")
        except TwilioException as exc:  # not a TwilioRestException: no status to go by
            return SendResult(Outcome.RETRY, reason=f"Twilio client error: {exc}")
        return SendResult(Outcome.SENT, reference=f"twilio:{sent.sid}")

    def _classify(self, exc: TwilioRestException) -> SendResult:
        code = exc.code or 0
        if code in PERMANENT:
            outcome = Outcome.GONE if code == OPT_OUT else Outcome.PERMANENT
            return SendResult(outcome, reason=f"Twilio {code}: {PERMANENT[code]}")
        if code in CONFIGURATION:
            return SendResult(Outcome.MISCONFIGURED, reason=f"Twilio {code}: {CONFIGURATION[code]}")
        if exc.status == 429 or code == 20429 or exc.status >= 500:
            return SendResult(
                Outcome.RETRY,
                reason=f"Twilio {exc.status}/{code}: try later",
                retry_after=parse_retry_after(self.client().http_client.retry_after, self.clock()),
            )
        return SendResult(Outcome.PERMANENT, reason=f"Twilio {exc.status}/{code}: {exc.msg}")


NO_DISCREET_SENDER = "discreet messages need a neutral sender (NOTIFIER_TWILIO_DISCREET_FROM)"


# Contacts are shown masked on their owner's pages: enough to recognise one's own, not
# enough to learn someone else's.
DOT = "••"


def mask_phone(e164: str) -> str:
    """``+33612345678`` → ``06 •• •• •• 78``; other countries keep their code."""
    number = phonenumbers.parse(e164)
    national = str(number.national_number)
    if number.country_code == 33 or e164.startswith(("+262", "+590", "+594", "+596")):
        digits = "0" + national if number.country_code == 33 else "0" + national[-9:]
        return f"{digits[:2]} {DOT} {DOT} {DOT} {digits[-2:]}"
    return f"+{number.country_code} {DOT} {DOT} {national[-2:]}"


def read_receipt(
    settings: Settings, query: str, body: bytes, headers: Mapping[str, str]
) -> Receipt | None:
    """Twilio's delivery receipt. Authenticated by ``X-Twilio-Signature`` over the public
    URL Twilio called (NOTIFIER_TWILIO_STATUS_CALLBACK_URL, not the address this process
    sees behind a proxy) and the form fields."""
    from twilio.request_validator import RequestValidator

    own = TwilioSettings.of(settings)
    token, base = own.twilio_auth_token, own.twilio_status_callback_url
    if token is None or base is None:
        raise ReceiptRefused(403, "Twilio callbacks are not configured")
    try:
        params = dict(parse_qsl(body.decode(), keep_blank_values=True))
    except UnicodeDecodeError:
        raise ReceiptRefused(400, "the form is not UTF-8 text") from None
    called = f"{base}?{query}" if query else base
    signature = headers.get("X-Twilio-Signature", "")
    if not RequestValidator(token.get_secret_value()).validate(called, params, signature):
        log.warning("refused a Twilio callback with an invalid signature")
        raise ReceiptRefused(403, "invalid X-Twilio-Signature")
    reported = params.get("MessageStatus", "")
    if reported not in ("delivered", "undelivered", "failed"):
        return None  # queued, sending, sent…: nothing to record yet
    error = f", error {params['ErrorCode']}" if params.get("ErrorCode") else ""
    return Receipt(
        delivered=reported == "delivered",
        detail=f"Twilio {reported}{error}",
        reference=f"twilio:{params.get('MessageSid', '')}",
    )


def configured(settings: Settings) -> bool:
    own = TwilioSettings.of(settings)
    return bool(own.twilio_account_sid and own.twilio_auth_token)


def from_settings(settings: Settings) -> TwilioSmsTransport:
    own = TwilioSettings.of(settings)
    return TwilioSmsTransport(
        own.twilio_account_sid or "",
        own.twilio_auth_token.get_secret_value() if own.twilio_auth_token else "",
        sender=own.twilio_from,
        discreet_sender=own.twilio_discreet_from,
        messaging_service_sid=own.twilio_messaging_service_sid,
        status_callback=own.twilio_status_callback_url,
        api_base_url=own.twilio_api_base_url,
        timeout=settings.provider_timeout_seconds,
        connections=settings.worker_sends_in_flight,
    )


def prepare(
    parts: Mapping[str, str], needs: Collection[Need], normalization: Normalization
) -> Prepared:
    """The SMS as it will be sent, its encoding and length, and why it cannot go, if so.

    A basic phone may not reassemble long or UCS-2 messages well: for ``no_smartphone`` the
    text is always normalised to GSM-7 and must fit in two segments (see
    :mod:`notifier.accessibility`).
    """
    basic_phone = Need.NO_SMARTPHONE in needs
    text = normalize(parts["text"], "gsm" if basic_phone else normalization)
    info = analyze(text)
    problem = None
    if basic_phone and (info.encoding != "GSM-7" or info.segments > BASIC_PHONE_MAX_SEGMENTS):
        problem = (
            f"too long for a basic phone: {info.encoding}, {info.segments} segments "
            f"(at most {BASIC_PHONE_MAX_SEGMENTS} in GSM-7)"
        )
    return Prepared(
        {**parts, "text": text},
        metadata={"encoding": info.encoding, "segments": str(info.segments)},
        sizes=f"{info.encoding}, {info.segments} segments",
        report=info.report,
        problem=problem,
    )


PLUGIN = register(
    Plugin(
        Channel.SMS,
        address=lambda c: c.phone if c.phone and is_mobile(c.phone) else None,
        shown=lambda c: mask_phone(c.phone) if c.phone else None,
        excluded_by={},
        labels={
            "fr": {
                "channel": "SMS",
                "preferences.unreachable": "nous n'avons pas votre numéro de portable",
            },
            "en": {
                "channel": "Text message",
                "preferences.unreachable": "we do not have your mobile number",
            },
        },
        required_parts=("text",),
        optional_parts=(),
        settings=TwilioSettings,
        configured=configured,
        build=from_settings,
        rate_limit=lambda s: TwilioSettings.of(s).rate_limit_sms_per_second,
        receipts=Receipts("twilio", read_receipt),
        prepare=prepare,
    )
)
