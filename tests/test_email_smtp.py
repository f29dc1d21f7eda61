"""The e-mail channel through aiosmtplib to a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import replace
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from notifier.channels.base import Outcome, OutgoingMessage
from notifier.channels.email import SmtpEmailTransport
from notifier.channels.mime import HEADERS_AS_GIVEN, build_email, folded
from notifier.models import Channel
from notifier.runtime.redis_server import free_port
from tests.support.smtp_server import SmtpServer

SENDER = "Gendarmerie nationale <ne-pas-repondre@gendarmerie.example>"


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path, require_starttls=True)
    yield server
    server.stop()


@pytest.fixture
def plain_server(tmp_path: Path) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path, require_starttls=False)
    yield server
    server.stop()


def email(category: str | None = None, html: bool = True) -> OutgoingMessage:
    parts = {"subject": "Rappel : votre rendez-vous", "text": "Bonjour,\n\nÀ jeudi."}
    if html:
        parts["html"] = '<!DOCTYPE html><html lang="fr"><body><p>À jeudi.</p></body></html>'
    return OutgoingMessage(
        id="msg-42",
        channel=Channel.EMAIL,
        address="jeanne.martin@example.org",
        parts=parts,
        subject="appointment:X",
        rule="r",
        category=category,
    )


def starttls(server: SmtpServer, **options: object) -> SmtpEmailTransport:
    return SmtpEmailTransport(
        "127.0.0.1",
        server.port,
        sender=SENDER,
        security="starttls",
        tls_context=server.client_context(),
        **options,  # type: ignore[arg-type]
    )


def test_starttls_multipart_message_and_headers(tls_server: SmtpServer) -> None:
    result = starttls(tls_server).send(email())
    assert result.outcome is Outcome.SENT, result.reason
    (received,) = tls_server.inbox.messages
    assert received["From"] == SENDER and received["To"] == "jeanne.martin@example.org"
    assert received["Subject"] == "Rappel : votre rendez-vous"
    message_id = received["Message-ID"].strip()  # a long header may be folded
    assert message_id.startswith("<") and "msg-42" in message_id
    assert message_id.endswith("@gendarmerie.example>")
    assert result.reference == f"smtp:{message_id}"
    assert received["Auto-Submitted"] == "auto-generated"
    assert received.get_content_type() == "multipart/alternative"
    text = received.get_body(("plain",))
    html = received.get_body(("html",))
    assert text is not None
    assert text.get_content().replace("\r\n", "\n").strip() == "Bonjour,\n\nÀ jeudi."
    assert html is not None and '<html lang="fr">' in html.get_content()
    assert "List-Unsubscribe" not in received  # a service message: no unsubscribe


def test_optional_category_carries_one_click_unsubscribe(tls_server: SmtpServer) -> None:
    link = "https://notifier.example/u/signed-token"
    message = replace(email(category="news"), links={"unsubscribe": link})
    assert starttls(tls_server).send(message).outcome is Outcome.SENT
    (received,) = tls_server.inbox.messages
    assert received["List-Unsubscribe"] == f"<{link}>"
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


LONG_SUBJECT = (
    "Rappel : votre rendez-vous à la brigade de gendarmerie de Saint-Étienne-du-Rouvray, "
    "jeudi 3 décembre à 14 h 30, pour le dépôt de votre plainte"
)
LONG_LINK = "https://notifier.example/u/" + "signed-token." * 12


@pytest.mark.parametrize(
    ("message", "sender"),
    [
        (email(), SENDER),
        (email(html=False), SENDER),
        (
            replace(email(), parts={**email().parts, "subject": LONG_SUBJECT}),
            "Gendarmerie — Saint-Étienne <ne-pas-repondre@gendarmerie.example>",
        ),
        (replace(email(category="news"), links={"unsubscribe": LONG_LINK}), SENDER),
        (replace(email(), parts={**email().parts, "subject": "Reminder: your appointment"}), ""),
    ],
    ids=["french-subject", "text-only", "long-subject-accented-sender", "unsubscribe", "ascii"],
)
def test_headers_written_as_given_read_as_the_stock_policy_writes_them(
    message: OutgoingMessage, sender: str
) -> None:
    built = build_email(message, sender)
    raw = built.as_bytes(policy=HEADERS_AS_GIVEN)
    fast = message_from_bytes(raw, policy=policy.default)
    stock = message_from_bytes(built.as_bytes(), policy=policy.default)
    assert [(k, str(v)) for k, v in fast.items()] == [(k, str(v)) for k, v in stock.items()]
    assert fast.get_body(("plain",)).get_content() == stock.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert str(fast["Subject"]) == message.parts["subject"]
    assert raw.isascii() and max(len(line) for line in raw.split(b"\n")) <= 998


@pytest.mark.parametrize(
    ("header", "as_given"),
    [
        ("To: jeanne.martin@example.org", True),
        ("Subject: =?utf-8?b?UmFwcGVs?=\n =?utf-8?b?w6AgamV1ZGk=?=", True),
        ("X: a\n\tb", True),
        ("X: " + "a" * 75, True),
        ("X: " + "a" * 76, False),  # longer than 78: left to the folding algorithm
        ("X: a\n " + "b" * 78, False),
        ("X: x\nBcc: someone@example.org", False),  # a new header, never written as given
        ("X: x\r\n y", False),
        ("X: x\n", False),
    ],
    ids=[
        "plain",
        "folded-encoded-words",
        "tab-fold",
        "78",
        "79",
        "long-continuation",
        "injected-header",
        "carriage-return",
        "bare-newline",
    ],
)
def test_only_a_header_that_needs_no_folding_is_written_as_given(
    header: str, as_given: bool
) -> None:
    assert folded(header, 78) is as_given


def test_text_only_when_there_is_no_html(tls_server: SmtpServer) -> None:
    starttls(tls_server).send(email(html=False))
    (received,) = tls_server.inbox.messages
    assert received.get_content_type() == "text/plain"


def test_untrusted_certificate_is_refused(tls_server: SmtpServer) -> None:
    channel = SmtpEmailTransport(
        "127.0.0.1", tls_server.port, sender=SENDER, tls_context=ssl.create_default_context()
    )
    assert channel.send(email()).outcome is Outcome.RETRY
    assert tls_server.inbox.messages == []


def test_starttls_required_even_if_the_server_does_not_offer_it(plain_server: SmtpServer) -> None:
    result = starttls(plain_server).send(email())
    assert result.outcome is Outcome.MISCONFIGURED and "STARTTLS" in result.reason
    assert plain_server.inbox.messages == []


def test_plain_relay_on_loopback(plain_server: SmtpServer) -> None:
    channel = SmtpEmailTransport("127.0.0.1", plain_server.port, sender=SENDER, security="none")
    assert channel.send(email()).outcome is Outcome.SENT
    assert len(plain_server.inbox.messages) == 1


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [
        ("550 5.1.1 No such user", Outcome.PERMANENT),
        ("553 5.1.3 Bad address", Outcome.PERMANENT),
        ("450 4.2.1 Mailbox busy", Outcome.RETRY),
        ("452 4.3.1 Insufficient storage", Outcome.RETRY),
    ],
    ids=["550-no-such-user", "553-bad-address", "450-mailbox-busy", "452-storage-full"],
)
def test_reply_codes(tls_server: SmtpServer, reply: str, outcome: Outcome) -> None:
    tls_server.inbox.refuse["jeanne.martin@example.org"] = reply
    result = starttls(tls_server).send(email())
    assert result.outcome is outcome and reply[:3] in result.reason


def test_nothing_listening_is_temporary() -> None:
    channel = SmtpEmailTransport("127.0.0.1", free_port(), sender=SENDER, timeout=2)
    assert channel.send(email()).outcome is Outcome.RETRY


def test_settings_select_smtp(tls_server: SmtpServer) -> None:
    from notifier.channels import transports_for
    from notifier.runtime.settings import Settings

    settings = Settings(
        smtp_host="127.0.0.1",
        smtp_port=tls_server.port,
        smtp_from=SENDER,
        smtp_ca_file=tls_server.cert,
    )
    channel = transports_for(settings)[Channel.EMAIL]
    assert isinstance(channel, SmtpEmailTransport)
    assert channel.send(email()).outcome is Outcome.SENT


def test_a_burst_reuses_one_session(tls_server: SmtpServer) -> None:
    """TCP, STARTTLS and the login are paid once, not once per e-mail."""
    channel = starttls(tls_server)
    outcomes = {channel.send(email()).outcome for _ in range(60)}
    assert outcomes == {Outcome.SENT}
    assert len(tls_server.inbox.messages) == 60
    assert tls_server.inbox.connections == 1 and channel.pool.opened == 1


def test_concurrent_sends_share_a_few_sessions(tls_server: SmtpServer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    channel = starttls(tls_server)
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda _: channel.send(email()).outcome, range(80)))
    assert set(outcomes) == {Outcome.SENT} and len(tls_server.inbox.messages) == 80
    assert tls_server.inbox.connections <= 8


def test_a_failed_session_is_never_reused(tls_server: SmtpServer) -> None:
    channel = starttls(tls_server)
    assert channel.send(email()).outcome is Outcome.SENT
    tls_server.inbox.refuse["jeanne.martin@example.org"] = "550 5.1.1 No such user"
    assert channel.send(email()).outcome is Outcome.PERMANENT
    tls_server.inbox.refuse.clear()
    assert channel.send(email()).outcome is Outcome.SENT
    assert tls_server.inbox.connections == 2  # the refusal's session was closed


def test_an_idle_session_is_closed_and_a_new_one_opened(tls_server: SmtpServer) -> None:
    import time

    channel = starttls(tls_server, idle_timeout=0.2)
    assert channel.send(email()).outcome is Outcome.SENT
    time.sleep(0.3)
    assert channel.send(email()).outcome is Outcome.SENT
    assert tls_server.inbox.connections == 2


def test_sessions_are_bounded_and_sends_beyond_wait_for_one(tls_server: SmtpServer) -> None:
    """Relays limit connections per client: 24 sends at once over at most 3 sessions."""
    from concurrent.futures import ThreadPoolExecutor

    channel = starttls(tls_server, max_connections=3)
    with ThreadPoolExecutor(max_workers=24) as pool:
        outcomes = list(pool.map(lambda _: channel.send(email()).outcome, range(48)))
    assert set(outcomes) == {Outcome.SENT} and len(tls_server.inbox.messages) == 48
    assert tls_server.inbox.connections == 3 and channel.pool.opened == 3
