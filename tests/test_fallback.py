"""Fallback across the three real channels, on their loopback peers, through the real store.

Push subscription gone (410) → SMS; SMS refused by Twilio (not a mobile) → e-mail over SMTP.
Each step is in the message's history.
"""

from __future__ import annotations

from pathlib import Path

from notifier.channels.email import SmtpEmailTransport
from notifier.channels.sms import TwilioSmsTransport
from notifier.channels.webpush import WebPushTransport, generate_vapid_keys
from notifier.models import Channel, MessageStatus
from notifier.rules.engine import plan
from notifier.store import Store
from tests.support.builders import NOW, claim, deliverer, make_event, rules_from
from tests.support.fake_push import LOOPBACK_PUSH, FakePushService
from tests.support.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, Reply
from tests.support.smtp_server import SmtpServer

RULES = rules_from(
    """
rules:
  - id: news
    trigger: [procedure.status_changed]
    template: procedure_status
    channels: [webpush, sms, email]
"""
)


def test_push_gone_then_sms_refused_then_email(store: Store, tmp_path: Path) -> None:
    push, twilio, smtp = (
        FakePushService(),
        FakeTwilio(),
        SmtpServer(tmp_path, require_starttls=True),
    )
    try:
        browser = push.subscribe("b1")
        push.replies["b1"] = [(410, {})]
        twilio.replies.append(Reply(400, 21614))
        event = make_event(
            type="procedure.status_changed",
            recipient={
                "id": "c-9",
                "contacts": {
                    "phone": "+33612345678",
                    "email": "jeanne.martin@example.org",
                    "push": browser.subscription(),
                },
            },
            data={"reference": "PLAINTE-1", "status_label": "transmise"},
        )
        store.accept("c:1", plan(event, RULES, NOW), NOW, ttl=60)
        (claimed,) = claim(store, NOW, limit=1)
        private, _ = generate_vapid_keys()
        worker = deliverer(
            store,
            {
                Channel.WEBPUSH: WebPushTransport(
                    private, "mailto:a@b.example", clock=lambda: NOW, allowed_hosts=LOOPBACK_PUSH
                ),
                Channel.SMS: TwilioSmsTransport(
                    ACCOUNT_SID, AUTH_TOKEN, sender="GENDARMERIE", api_base_url=twilio.url
                ),
                Channel.EMAIL: SmtpEmailTransport(
                    "127.0.0.1",
                    smtp.port,
                    sender="Gendarmerie <ne-pas-repondre@gendarmerie.example>",
                    tls_context=smtp.client_context(),
                ),
            },
            at=NOW,
        )
        assert worker.deliver(claimed.message_id, claimed.claim) is MessageStatus.SENT
        (received,) = smtp.inbox.messages
        assert received["Subject"] == "Votre dossier PLAINTE-1 a avancé"
        assert len(twilio.requests) == 1 and twilio.requests[0]["form"]["To"] == "+33612345678"
        record = store.get(claimed.message_id)
        assert record is not None
        steps = [(h.status.value, h.channel.value if h.channel else None) for h in record.history]
        assert steps[-3:] == [("sending", "webpush"), ("sending", "sms"), ("sent", "email")]
        assert "gone" in (record.history[-3].detail or "")
        assert "21614" in (record.history[-2].detail or "")
    finally:
        push.close()
        twilio.close()
        smtp.stop()
