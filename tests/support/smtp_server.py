"""A real SMTP server on loopback (aiosmtpd), optionally requiring STARTTLS.

The certificate is self-signed, made for 127.0.0.1 by the test; the client trusts it through
an SSL context built from it, exactly as production would trust a private CA.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from notifier.runtime.redis_server import free_port


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class Inbox:
    """Receives mail; answers RCPT with a scripted code for some addresses."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[Any] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # address -> "550 No such user"

    connections: int = 0  # the first EHLO of each connection (the one after STARTTLS is not)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        if not session.ssl:
            self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted"


class SmtpServer:
    def __init__(
        self, folder: Path, *, require_starttls: bool, password: str | None = None
    ) -> None:
        """With ``password``, AUTH (after STARTTLS) accepts the login ``notifier`` with it."""
        self.inbox = Inbox()
        self.logins: list[bool] = []  # each AUTH attempt, whether it succeeded
        self.port = free_port()
        self.cert, key = self_signed(folder)
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_context.load_cert_chain(self.cert, key)
        self.controller = Controller(
            self.inbox,
            hostname="127.0.0.1",
            port=self.port,
            tls_context=server_context if require_starttls else None,
            require_starttls=require_starttls,
            authenticator=self._authenticate if password is not None else None,
        )
        self.password = password
        self.controller.start()

    def _authenticate(self, server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        def text(value: str | bytes) -> str:
            return value.decode() if isinstance(value, bytes) else value

        ok = text(auth_data.login) == "notifier" and text(auth_data.password) == self.password
        self.logins.append(ok)
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535

    def client_context(self) -> ssl.SSLContext:
        """An SSL context trusting this server's self-signed certificate, and nothing else."""
        return ssl.create_default_context(cafile=str(self.cert))

    def stop(self) -> None:
        self.controller.stop()
