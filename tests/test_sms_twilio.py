"""The Twilio SMS channel through the real twilio client, against a loopback Twilio API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from notifier.channels.base import Outcome, OutgoingMessage
from notifier.channels.sms import TwilioSmsTransport
from notifier.models import Channel
from tests.support.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, Reply


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio()
    yield fake
    fake.close()


def transport(fake: FakeTwilio, **options: object) -> TwilioSmsTransport:
    defaults: dict[str, object] = {
        "sender": "GENDARMERIE",
        "status_callback": "https://notifier.example/v1/callbacks/twilio",
        "api_base_url": fake.url,
        "timeout": 1.0,
    }
    return TwilioSmsTransport(ACCOUNT_SID, AUTH_TOKEN, **(defaults | options))  # type: ignore[arg-type]


def sms(expires_in: timedelta | None = timedelta(hours=2)) -> OutgoingMessage:
    return OutgoingMessage(
        id="msg-1",
        channel=Channel.SMS,
        address="+33612345678",
        parts={"text": "Gendarmerie : rappel de votre rendez-vous."},
        subject="appointment:X",
        rule="r",
        expires_at=datetime.now(UTC) + expires_in if expires_in else None,
    )


def test_sends_the_exact_form_fields(twilio: FakeTwilio) -> None:
    result = transport(twilio).send(sms())
    assert result.outcome is Outcome.SENT and result.reference == "twilio:SM" + "0" * 31 + "1"
    (request,) = twilio.requests
    assert request["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    form = request["form"]
    assert set(form) == {"To", "From", "Body", "StatusCallback", "ValidityPeriod"}
    assert form["To"] == "+33612345678" and form["From"] == "GENDARMERIE"
    assert form["Body"] == "Gendarmerie : rappel de votre rendez-vous."
    assert form["StatusCallback"] == "https://notifier.example/v1/callbacks/twilio?message_id=msg-1"
    assert 7190 <= int(form["ValidityPeriod"]) <= 7200


def test_messaging_service_and_capped_validity(twilio: FakeTwilio) -> None:
    sender = transport(twilio, sender=None, messaging_service_sid="MG" + "1" * 32)
    sender.send(sms(expires_in=timedelta(days=3)))
    form = twilio.requests[0]["form"]
    assert form["MessagingServiceSid"] == "MG" + "1" * 32 and "From" not in form
    assert form["ValidityPeriod"] == "36000"


def test_expired_message_is_not_sent(twilio: FakeTwilio) -> None:
    result = transport(twilio).send(sms(expires_in=timedelta(seconds=-5)))
    assert result.outcome is Outcome.PERMANENT and twilio.requests == []


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [
        pytest.param(Reply(400, 21211), Outcome.PERMANENT, id="21211-invalid-to"),
        pytest.param(Reply(400, 21614), Outcome.PERMANENT, id="21614-not-a-mobile"),
        pytest.param(Reply(400, 21610), Outcome.GONE, id="21610-stop"),
        pytest.param(Reply(400, 21635), Outcome.PERMANENT, id="21635-cannot-receive-from-sender"),
        pytest.param(Reply(400, 21612), Outcome.PERMANENT, id="21612-unreachable-from-sender"),
        pytest.param(Reply(400, 21408), Outcome.MISCONFIGURED, id="21408-region-not-enabled"),
        pytest.param(Reply(400, 21606), Outcome.MISCONFIGURED, id="21606-sender-not-allowed"),
        pytest.param(Reply(401, 20003), Outcome.MISCONFIGURED, id="20003-authentication"),
        pytest.param(Reply(429, 20429), Outcome.RETRY, id="20429-too-many-requests"),
        pytest.param(Reply(500, 20500), Outcome.RETRY, id="20500-server-error"),
        pytest.param(Reply(503, 20503), Outcome.RETRY, id="20503-unavailable"),
        pytest.param(
            Reply(400, 21617), Outcome.PERMANENT, id="21617-unknown-4xx"
        ),  # body too long: unknown code, a 4xx
    ],
)
def test_error_classes(twilio: FakeTwilio, reply: Reply, outcome: Outcome) -> None:
    twilio.replies.append(reply)
    result = transport(twilio).send(sms())
    assert result.outcome is outcome
    assert str(reply.code) in result.reason


def test_wrong_credentials_are_a_configuration_error(twilio: FakeTwilio) -> None:
    channel = TwilioSmsTransport(
        ACCOUNT_SID, "wrong-token", sender="GENDARMERIE", api_base_url=twilio.url
    )
    result = channel.send(sms())
    assert result.outcome is Outcome.MISCONFIGURED and "20003" in result.reason


def test_timeout_after_the_request_is_ambiguous_and_not_resent(twilio: FakeTwilio) -> None:
    twilio.replies.append(Reply(delay=2.0))
    result = transport(twilio, timeout=0.5).send(sms())
    assert result.outcome is Outcome.UNKNOWN and "not resent" in result.reason


def test_nothing_listening_is_temporary() -> None:
    from notifier.runtime.redis_server import free_port

    channel = TwilioSmsTransport(
        ACCOUNT_SID,
        AUTH_TOKEN,
        sender="GENDARMERIE",
        api_base_url=f"http://127.0.0.1:{free_port()}",
        timeout=1.0,
    )
    assert channel.send(sms()).outcome is Outcome.RETRY


def test_settings_select_twilio_else_the_outbox(twilio: FakeTwilio, tmp_path: object) -> None:
    from notifier.channels import transports_for
    from notifier.channels.outbox import OutboxTransport
    from notifier.runtime.settings import Settings

    assert isinstance(transports_for(Settings())[Channel.SMS], OutboxTransport)
    configured = Settings(
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_from="GENDARMERIE",
        twilio_api_base_url=twilio.url,
    )
    sms_transport = transports_for(configured)[Channel.SMS]
    assert isinstance(sms_transport, TwilioSmsTransport)
    assert sms_transport.send(sms()).outcome is Outcome.SENT
    assert isinstance(transports_for(configured)[Channel.EMAIL], OutboxTransport)


def test_sms_permanent_failure_falls_back_to_email_end_to_end(
    twilio: FakeTwilio, store: object, tmp_path: object
) -> None:
    """Event planned and stored, Twilio refuses the number, the e-mail goes out instead."""
    import json
    from pathlib import Path

    from notifier.channels.outbox import OutboxTransport
    from notifier.models import MessageStatus
    from notifier.rules.engine import plan
    from notifier.store import Store
    from tests.support.builders import NOW, REMINDER_RULES, claim, deliverer, make_event, rules_from

    assert isinstance(store, Store) and isinstance(tmp_path, Path)
    event = make_event()
    store.accept("c:1", plan(event, rules_from(REMINDER_RULES), NOW), NOW, ttl=60)
    due = NOW + timedelta(days=1)
    (claimed,) = claim(store, due, limit=1)
    twilio.replies.append(Reply(400, 21614))
    worker = deliverer(
        store,
        {
            Channel.SMS: transport(twilio, clock=lambda: due),
            Channel.EMAIL: OutboxTransport(tmp_path),
        },
        at=due,
    )
    assert worker.deliver(claimed.message_id, claimed.claim) is MessageStatus.SENT
    (email,) = [json.loads(p.read_text()) for p in tmp_path.glob("*.json")]
    assert email["channel"] == "email" and email["to"] == "jeanne.martin@example.org"
    record = store.get(claimed.message_id)
    assert record is not None
    assert [(h.status.value, h.channel.value if h.channel else None) for h in record.history][
        -2:
    ] == [
        ("sending", "sms"),
        ("sent", "email"),
    ]
    assert "21614" in (record.history[-2].detail or "")


def test_concurrent_sends_each_get_their_own_answer(twilio: FakeTwilio) -> None:
    """40 sends at once from 40 threads: each result is Twilio's answer to its own request.

    twilio's client returns its answer through an attribute, so the transport gives each
    thread its own client. The window where two threads sharing one would swap answers is
    two bytecodes wide: this test did not catch it on the shared client in three runs; it
    guards the mapping of answers to requests under concurrency."""
    from concurrent.futures import ThreadPoolExecutor
    from dataclasses import replace

    twilio.delay = 0.3
    # what is tested is which answer each send gets, not how fast: a 1-s timeout timed out
    # six of the 40 on a loaded CI machine (80 threads on two cores)
    channel = transport(twilio, connections=40, timeout=10.0)
    messages = [replace(sms(), id=f"msg-{n}") for n in range(40)]
    for _ in range(2):
        twilio.requests.clear()
        with ThreadPoolExecutor(max_workers=40) as pool:
            results = list(zip(messages, pool.map(channel.send, messages), strict=True))
        assert twilio.peak > 20
        by_sid = {
            f"twilio:SM{n + 1:032d}": request["form"]["StatusCallback"].rsplit("=", 1)[1]
            for n, request in enumerate(twilio.requests)
        }
        assert [r.reason for _, r in results if r.reference is None] == []
        assert all(by_sid[r.reference or ""] == m.id for m, r in results)
