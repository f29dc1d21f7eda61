"""E-mail over SMTP with aiosmtplib: TLS that is required, not hoped for (the e-mail itself,
multipart text + HTML, is built by :mod:`.mime`).

Security modes: ``tls`` (implicit TLS, port 465), ``starttls`` (the upgrade is required: a
server that does not offer it is an error, never a silent plain-text fallback), ``none``
(loopback relays only).

SMTP replies decide what happens next: 5xx is permanent for this address, 4xx is temporary;
a network failure is retried. Sessions are pooled (:class:`SmtpPool`): a burst of e-mails
pays TCP, STARTTLS and the login once per session, not once per e-mail.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr

from notifier.channels.base import Outcome, OutgoingMessage, SendResult
from notifier.channels.mime import HEADERS_AS_GIVEN, build_email
from notifier.channels.registry import ChannelSettings, Plugin, register
from notifier.models import Channel

if TYPE_CHECKING:  # the SDK is imported when a transport sends: not by the registry
    import aiosmtplib

    from notifier.runtime.settings import Settings

Security = Literal["starttls", "tls", "none"]


class SmtpSettings(ChannelSettings):
    smtp_host: str | None = Field(
        default=None, description="SMTP server; with NOTIFIER_SMTP_FROM, e-mail goes through it."
    )
    smtp_port: int = Field(default=587, description="SMTP port (587 STARTTLS, 465 TLS).")
    smtp_security: Security = Field(
        default="starttls",
        description="starttls (required, never opportunistic), tls (implicit), or none "
        "(a relay on loopback only).",
    )
    smtp_username: str | None = Field(default=None, description="SMTP login, if any.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    smtp_from: str | None = Field(
        default=None,
        description='Sender, e.g. "Gendarmerie nationale <ne-pas-repondre@example.fr>".',
    )
    smtp_discreet_from: str | None = Field(
        default=None,
        description='Neutral sender for people with discreet messages, e.g. "Mon espace '
        '<messages@example.net>": neither name nor address names the service. Unset: they get '
        "no e-mail, the next channel is tried.",
    )
    smtp_max_connections: int = Field(
        default=64,
        ge=1,
        description="SMTP sessions one worker process keeps open at most; e-mails beyond "
        "wait for a free one. Each session sends one e-mail at a time.",
    )
    smtp_ca_file: Path | None = Field(
        default=None, description="CA bundle to trust for the SMTP server (a private CA)."
    )
    rate_limit_email_per_second: int = Field(
        default=50, description="E-mails sent per second, all workers together (0: no limit)."
    )


class StartTlsMissing(Exception):
    """STARTTLS is required but the server does not offer it: never send in clear."""


class SmtpPool:
    """Connected SMTP sessions of one transport, reused from send to send.

    At most ``max_open`` sessions at once (relays limit connections per client); a send
    beyond waits for one to be free. A session that fails in any way is closed, never
    reused; one idle longer than ``idle_timeout`` is closed before the server drops it.
    Lives on the transport's own event loop (one thread), so every send thread shares it.
    """

    def __init__(
        self,
        connect: Callable[[], Awaitable[aiosmtplib.SMTP]],
        *,
        idle_timeout: float = 30.0,
        max_open: int = 64,
    ) -> None:
        self.connect = connect
        self.idle_timeout = idle_timeout
        self.slots = asyncio.Semaphore(max_open)
        self.idle: list[tuple[float, aiosmtplib.SMTP]] = []
        self.opened = 0  # sessions opened since start: a burst should need few

    async def acquire(self) -> aiosmtplib.SMTP:
        """A session for one send; give it back with :meth:`release` or :meth:`drop`."""
        await self.slots.acquire()
        try:
            now = time.monotonic()
            while self.idle:
                since, client = self.idle.pop()
                if now - since < self.idle_timeout and client.is_connected:
                    return client
                await self.discard(client)
            self.opened += 1
            return await self.connect()
        except BaseException:
            self.slots.release()
            raise

    async def release(self, client: aiosmtplib.SMTP) -> None:
        """The send went well: the session waits for the next one."""
        if client.is_connected:
            self.idle.append((time.monotonic(), client))
        else:
            await self.discard(client)
        self.slots.release()

    async def drop(self, client: aiosmtplib.SMTP) -> None:
        """The send failed: the session's state is unknown, it is closed and never reused."""
        await self.discard(client)
        self.slots.release()

    @staticmethod
    async def discard(client: aiosmtplib.SMTP) -> None:
        with suppress(Exception):
            client.close()


class SmtpEmailTransport:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        discreet_sender: str | None = None,
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        tls_context: ssl.SSLContext | None = None,
        idle_timeout: float = 30.0,
        max_connections: int = 64,
    ) -> None:
        self.host, self.port = host, port
        self.sender = sender
        self.envelope_sender = parseaddr(sender)[1]  # MAIL FROM, parsed once
        self.discreet_sender = discreet_sender
        self.security = security
        self.username, self.password = username, password
        self.timeout = timeout
        self.tls_context = tls_context or ssl.create_default_context()
        self.pool = SmtpPool(self._connect, idle_timeout=idle_timeout, max_open=max_connections)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_lock = threading.Lock()

    def loop(self) -> asyncio.AbstractEventLoop:
        """The transport's event loop, in a thread of its own, started at the first send."""
        with self._loop_lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(
                    target=self._loop.run_forever, name="smtp-sessions", daemon=True
                ).start()
            return self._loop

    def send(self, message: OutgoingMessage) -> SendResult:
        import aiosmtplib

        sender, envelope = self.sender, self.envelope_sender
        if message.discreet:  # a neutral From, and Return-Path, never the service's
            if not self.discreet_sender:
                return SendResult(Outcome.PERMANENT, reason=NO_DISCREET_SENDER)
            sender, envelope = self.discreet_sender, parseaddr(self.discreet_sender)[1]
        email = build_email(message, sender)
        data = email.as_bytes(policy=HEADERS_AS_GIVEN)
        future = asyncio.run_coroutine_threadsafe(
            self._send(envelope, message.address, data), self.loop()
        )
        try:
            # each step is bounded by the timeout: connect, EHLO, STARTTLS, login, the send
            future.result(timeout=self.timeout * 6)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            return self._classify(exc.recipients[0].code, exc.recipients[0].message)
        except aiosmtplib.SMTPResponseException as exc:
            return self._classify(exc.code, exc.message)
        except (StartTlsMissing, aiosmtplib.SMTPNotSupported) as exc:
            return SendResult(Outcome.MISCONFIGURED, reason=f"SMTP server: {exc}")
        except (aiosmtplib.SMTPException, OSError) as exc:
            return SendResult(Outcome.RETRY, reason=f"SMTP connection: {exc}")
        except TimeoutError:
            future.cancel()
            return SendResult(Outcome.RETRY, reason="SMTP server: no answer in time")
        return SendResult(Outcome.SENT, reference=f"smtp:{email['Message-ID']}")

    async def _send(self, sender: str, recipient: str, data: bytes) -> None:
        client = await self.pool.acquire()
        try:
            await client.sendmail(sender, [recipient], data)
        except BaseException:
            await self.pool.drop(client)
            raise
        await self.pool.release(client)

    async def _connect(self) -> aiosmtplib.SMTP:
        """A new session, secured and logged in as the settings say."""
        import aiosmtplib

        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            use_tls=self.security == "tls",
            start_tls=False,  # upgraded below, where a missing STARTTLS is an error
            tls_context=self.tls_context if self.security == "tls" else None,
            timeout=self.timeout,
        )
        await client.connect()
        try:
            await client.ehlo()
            if self.security == "starttls":
                if not client.supports_extension("starttls"):
                    raise StartTlsMissing(
                        f"{self.host}:{self.port} does not offer STARTTLS, which is required; "
                        "fix the server or set NOTIFIER_SMTP_SECURITY"
                    )
                await client.starttls(tls_context=self.tls_context)
            if self.username:
                await client.login(self.username, self.password or "")
        except BaseException:
            await SmtpPool.discard(client)
            raise
        return client

    @staticmethod
    def _classify(code: int, text: str) -> SendResult:
        reason = f"SMTP {code}: {text}"
        if code in (530, 535, 538):  # authentication required or refused: our configuration
            return SendResult(Outcome.MISCONFIGURED, reason=reason)
        if 500 <= code < 600:
            return SendResult(Outcome.PERMANENT, reason=reason)
        return SendResult(Outcome.RETRY, reason=reason)


NO_DISCREET_SENDER = "discreet messages need a neutral sender (NOTIFIER_SMTP_DISCREET_FROM)"


def mask_email(address: str) -> str:
    """``jeanne.martin@example.org`` → ``j•••@example.org``."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}"


def configured(settings: Settings) -> bool:
    own = SmtpSettings.of(settings)
    return bool(own.smtp_host and own.smtp_from)


def from_settings(settings: Settings) -> SmtpEmailTransport:
    own = SmtpSettings.of(settings)
    cafile = str(own.smtp_ca_file) if own.smtp_ca_file else None
    return SmtpEmailTransport(
        own.smtp_host or "",
        own.smtp_port,
        sender=own.smtp_from or "",
        discreet_sender=own.smtp_discreet_from,
        security=own.smtp_security,
        username=own.smtp_username,
        password=own.smtp_password.get_secret_value() if own.smtp_password else None,
        timeout=settings.provider_timeout_seconds,
        tls_context=ssl.create_default_context(cafile=cafile),
        max_connections=own.smtp_max_connections,
    )


PLUGIN = register(
    Plugin(
        Channel.EMAIL,
        address=lambda c: c.email,
        shown=lambda c: mask_email(c.email) if c.email else None,
        excluded_by={},
        labels={
            "fr": {
                "channel": "E-mail",
                "preferences.unreachable": "nous n'avons pas votre adresse e-mail",
            },
            "en": {
                "channel": "E-mail",
                "preferences.unreachable": "we do not have your e-mail address",
            },
        },
        required_parts=("subject", "text"),
        optional_parts=("html",),
        settings=SmtpSettings,
        configured=configured,
        build=from_settings,
        rate_limit=lambda s: SmtpSettings.of(s).rate_limit_email_per_second,
        without_public_url="e-mail goes through NOTIFIER_SMTP_HOST: e-mails would have no link "
        "to the citizen's pages and no one-click unsubscribe.",
    )
)
