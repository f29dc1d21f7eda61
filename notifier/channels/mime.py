"""An e-mail as the SMTP transport (:mod:`.email`) sends it: plain text and, when the
template has it, HTML; the subject and the sender's name encoded; the headers written as
given (:class:`_HeadersAsGiven`). An optional category (news the citizen may opt out of)
carries ``List-Unsubscribe`` and ``List-Unsubscribe-Post`` (RFC 8058, one-click); service
messages such as appointment reminders do not, nor does a discreet e-mail.
"""

from __future__ import annotations

import secrets
from email.charset import BASE64, QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import formataddr, formatdate, make_msgid, parseaddr

from notifier.channels.base import OutgoingMessage

UTF8 = Charset("utf-8")
UTF8.body_encoding = QP  # readable French when undecoded; headers in base64 (cheaper)
UTF8.header_encoding = BASE64


class _HeadersAsGiven(Compat32):
    """``compat32``, writing a header that is ASCII and already folded as it stands.

    Ours nearly all are (encoded words for the subject and the sender's name, a validated
    address, our own links), and the stock policy ran the ``Header`` folding algorithm over
    each of an e-mail's dozen headers again: 8 % of an e-mail's CPU in the worker
    (bench/README.md, benchmark 7). Anything else (non-ASCII, longer than a line, a line
    break not followed by a fold's whitespace) goes through that algorithm as before.
    """

    def fold(self, name: str, value: str) -> str:
        if self._as_given(name, value):
            return f"{name}: {value}{self.linesep}"
        return super().fold(name, value)

    def fold_binary(self, name: str, value: str) -> bytes:
        if self._as_given(name, value):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)

    def _as_given(self, name: str, value: object) -> bool:
        return (
            isinstance(value, str)
            and value.isascii()
            and folded(f"{name}: {value}", self.max_line_length or 78)
        )


def folded(header: str, width: int) -> bool:
    """Every line within ``width``, and no line break but a fold's (a newline, then a space
    or a tab): such a header needs no more folding, and can start no other header."""
    first, *more = header.split("\n")
    return (
        "\r" not in header
        and len(first) <= width
        and all(line[:1] in (" ", "\t") and len(line) <= width for line in more)
    )


HEADERS_AS_GIVEN = _HeadersAsGiven()


def part(text: str, subtype: str) -> MIMEText:
    """A text part in UTF-8, quoted-printable (MIMEText takes a Charset, typeshed says str)."""
    return MIMEText(text, subtype, UTF8)  # type: ignore[arg-type]


def build_email(message: OutgoingMessage, sender: str) -> Message:
    """The MIME message: plain text always, HTML as the alternative when the template has it.

    Built with the ``compat32`` classes, which write headers as given: the modern
    ``EmailMessage`` parses every header it is handed, which was a third of an e-mail's CPU
    (bench/README.md, benchmark 7). The values are ours (a configured sender, a validated
    address, a rendered subject), so there is nothing to parse.
    """
    text = part(message.parts["text"], "plain")
    email: Message = text
    if "html" in message.parts:
        # "=_" never occurs in quoted-printable text, so this boundary is safe as it stands
        # (else the generator compiles a regular expression per e-mail to check its own)
        email = MIMEMultipart("alternative", "=_" + secrets.token_hex(12), [text])
        email.attach(part(message.parts["html"], "html"))
        del text["MIME-Version"]  # once, at the top
    name, address = parseaddr(sender)
    email["From"] = formataddr((name, address), charset=UTF8)
    email["To"] = message.address
    email["Subject"] = Header(message.parts["subject"], UTF8, header_name="Subject").encode()
    domain = address.rsplit("@", 1)[-1] if "@" in address else None
    email["Message-ID"] = make_msgid(idstring=message.id, domain=domain)
    email["Date"] = formatdate(usegmt=True)
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    unsubscribe = message.links.get("unsubscribe")
    # a signed link (this reader, category and channel); none in a discreet e-mail
    if message.category and unsubscribe and not message.discreet:
        email["List-Unsubscribe"] = f"<{unsubscribe}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return email
