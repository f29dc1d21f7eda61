"""E-mail over SMTP with aiosmtplib: multipart text + HTML, TLS that is required, not hoped for.

Security modes: ``tls`` (implicit TLS, port 465), ``starttls`` (the upgrade is required: a
server that does not offer it is an error, never a silent plain-text fallback), ``none``
(loopback relays only).

SMTP replies decide what happens next: 5xx is permanent for this address, 4xx is temporary;
a network failure is retried. Sessions are pooled (:class:`SmtpPool`): a burst of e-mails
pays TCP, STARTTLS and the login once per session, not once per e-mail. An optional
category (news the citizen may opt out of) carries ``List-Unsubscribe`` and
``List-Unsubscribe-Post`` (RFC 8058, one-click); service messages such as appointment
reminders do not.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Literal

import aiosmtplib

from notifier.channels.base import Outcome, OutgoingMessage, SendResult

Security = Literal["none", "starttls", "tls"]


class StartTlsMissing(Exception):
    """STARTTLS is required but the server does not offer it: never send in clear."""


def build_email(message: OutgoingMessage, sender: str) -> EmailMessage:
    """The MIME message: plain text always, HTML as the alternative when the template has it."""
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.address
    email["Subject"] = message.parts["subject"]
    domain = sender.rsplit("@", 1)[-1].rstrip(">") if "@" in sender else None
    email["Message-ID"] = make_msgid(idstring=message.id, domain=domain)
    email["Date"] = formatdate(usegmt=True)
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    unsubscribe = message.links.get("unsubscribe")
    if message.category and unsubscribe:  # a signed link: this reader, category and channel
        email["List-Unsubscribe"] = f"<{unsubscribe}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email.set_content(message.parts["text"])
    if "html" in message.parts:
        email.add_alternative(message.parts["html"], subtype="html")
    return email


class SmtpPool:
    """Connected SMTP sessions of one transport, reused from send to send.

    A session that fails in any way is closed, never reused; one idle longer than
    ``idle_timeout`` is closed before the server drops it. Lives on the transport's own
    event loop (one thread), so sends from every worker thread share it.
    """

    def __init__(
        self,
        connect: Callable[[], Awaitable[aiosmtplib.SMTP]],
        *,
        idle_timeout: float = 30.0,
        max_idle: int = 16,
    ) -> None:
        self.connect = connect
        self.idle_timeout = idle_timeout
        self.max_idle = max_idle
        self.idle: list[tuple[float, aiosmtplib.SMTP]] = []
        self.opened = 0  # sessions opened since start: a burst should need few

    async def acquire(self) -> aiosmtplib.SMTP:
        now = time.monotonic()
        while self.idle:
            since, client = self.idle.pop()
            if now - since < self.idle_timeout and client.is_connected:
                return client
            await self.discard(client)
        self.opened += 1
        return await self.connect()

    async def release(self, client: aiosmtplib.SMTP) -> None:
        if len(self.idle) < self.max_idle and client.is_connected:
            self.idle.append((time.monotonic(), client))
        else:
            await self.discard(client)

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
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        tls_context: ssl.SSLContext | None = None,
        idle_timeout: float = 30.0,
    ) -> None:
        self.host, self.port = host, port
        self.sender = sender
        self.security = security
        self.username, self.password = username, password
        self.timeout = timeout
        self.tls_context = tls_context or ssl.create_default_context()
        self.pool = SmtpPool(self._connect, idle_timeout=idle_timeout)
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
        email = build_email(message, self.sender)
        future = asyncio.run_coroutine_threadsafe(self._send(email), self.loop())
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

    async def _send(self, email: EmailMessage) -> None:
        client = await self.pool.acquire()
        try:
            await client.send_message(email)
        except BaseException:
            await self.pool.discard(client)  # its state is unknown: never reused
            raise
        await self.pool.release(client)

    async def _connect(self) -> aiosmtplib.SMTP:
        """A new session, secured and logged in as the settings say."""
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
