"""E-mail over SMTP with aiosmtplib: multipart text + HTML, TLS that is required, not hoped for.

Security modes: ``tls`` (implicit TLS, port 465), ``starttls`` (the upgrade is required: a
server that does not offer it is an error, never a silent plain-text fallback), ``none``
(loopback relays only).

SMTP replies decide what happens next: 5xx is permanent for this address, 4xx is temporary;
a network failure is retried. An optional category (news the citizen may opt out of) carries
``List-Unsubscribe`` and ``List-Unsubscribe-Post`` (RFC 8058, one-click); service messages
such as appointment reminders do not.
"""

from __future__ import annotations

import asyncio
import ssl
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
    ) -> None:
        self.host, self.port = host, port
        self.sender = sender
        self.security = security
        self.username, self.password = username, password
        self.timeout = timeout
        self.tls_context = tls_context or ssl.create_default_context()

    def send(self, message: OutgoingMessage) -> SendResult:
        email = build_email(message, self.sender)
        try:
            asyncio.run(self._send(email))
        except aiosmtplib.SMTPRecipientsRefused as exc:
            return self._classify(exc.recipients[0].code, exc.recipients[0].message)
        except aiosmtplib.SMTPResponseException as exc:
            return self._classify(exc.code, exc.message)
        except (StartTlsMissing, aiosmtplib.SMTPNotSupported) as exc:
            return SendResult(Outcome.MISCONFIGURED, reason=f"SMTP server: {exc}")
        except (aiosmtplib.SMTPException, OSError) as exc:
            return SendResult(Outcome.RETRY, reason=f"SMTP connection: {exc}")
        return SendResult(Outcome.SENT, reference=f"smtp:{email['Message-ID']}")

    async def _send(self, email: EmailMessage) -> None:
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            use_tls=self.security == "tls",
            start_tls=False,  # upgraded below, where a missing STARTTLS is an error
            tls_context=self.tls_context if self.security == "tls" else None,
            timeout=self.timeout,
        )
        async with client:
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
            await client.send_message(email)

    @staticmethod
    def _classify(code: int, text: str) -> SendResult:
        reason = f"SMTP {code}: {text}"
        if code in (530, 535, 538):  # authentication required or refused: our configuration
            return SendResult(Outcome.MISCONFIGURED, reason=reason)
        if 500 <= code < 600:
            return SendResult(Outcome.PERMANENT, reason=reason)
        return SendResult(Outcome.RETRY, reason=reason)
