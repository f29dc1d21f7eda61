"""The channel registry: every channel has its plugin, built from the settings it names."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from notifier.channels import transports_for
from notifier.channels.email import SmtpEmailTransport
from notifier.channels.outbox import OutboxTransport
from notifier.channels.registry import plugins
from notifier.channels.sms import TwilioSmsTransport
from notifier.channels.webpush import WebPushTransport, generate_vapid_keys
from notifier.models import Channel, Need
from notifier.runtime.settings import Settings

TWILIO = {"twilio_account_sid": "AC" + "0" * 32, "twilio_auth_token": "t" * 32}
SMTP = {"smtp_host": "127.0.0.1", "smtp_from": "ne-pas-repondre@example.fr"}


def test_every_channel_has_a_plugin_with_parts() -> None:
    assert set(plugins()) == set(Channel)
    for channel, plugin in plugins().items():
        assert plugin.channel is channel and plugin.required_parts
        assert not set(plugin.required_parts) & set(plugin.optional_parts)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        pytest.param({}, {c: OutboxTransport for c in Channel}, id="nothing-configured"),
        pytest.param(
            TWILIO | {"twilio_from": "GENDARMERIE"},
            {
                Channel.SMS: TwilioSmsTransport,
                Channel.EMAIL: OutboxTransport,
                Channel.WEBPUSH: OutboxTransport,
            },
            id="twilio-only",
        ),
        pytest.param(
            {"twilio_account_sid": TWILIO["twilio_account_sid"]} | SMTP,
            {
                Channel.SMS: OutboxTransport,
                Channel.EMAIL: SmtpEmailTransport,
                Channel.WEBPUSH: OutboxTransport,
            },
            id="half-twilio-and-smtp",
        ),
        pytest.param(
            TWILIO | {"twilio_from": "GENDARMERIE"} | SMTP | {"vapid": True},
            {
                Channel.SMS: TwilioSmsTransport,
                Channel.EMAIL: SmtpEmailTransport,
                Channel.WEBPUSH: WebPushTransport,
            },
            id="everything",
        ),
    ],
)
def test_a_configured_provider_else_the_outbox(
    settings: dict[str, Any], expected: dict[Channel, type], tmp_path: Any
) -> None:
    if settings.pop("vapid", False):
        settings |= {
            "vapid_private_key": generate_vapid_keys()[0],
            "vapid_subject": "mailto:ops@example.fr",
        }
    built = transports_for(Settings(outbox_dir=tmp_path, **settings))
    assert {c: type(t) for c, t in built.items()} == expected


def test_a_plugin_builds_its_transport_from_the_settings(tmp_path: Any) -> None:
    settings = Settings(
        outbox_dir=tmp_path, smtp_max_connections=7, worker_sends_in_flight=9, **SMTP, **TWILIO
    )
    email = plugins()[Channel.EMAIL].build(settings)
    assert isinstance(email, SmtpEmailTransport) and email.pool.slots._value == 7
    sms = plugins()[Channel.SMS].build(settings.model_copy(update={"twilio_from": "X"}))
    adapter = sms.session.get_adapter("https://api.twilio.com")  # type: ignore[attr-defined]
    assert adapter._pool_maxsize == 9


def test_a_spoken_channel_must_be_excluded_for_written_contact_only() -> None:
    """No voice, ever, for deaf and hard-of-hearing people: a plug-in that speaks and
    forgets to exclude them is refused when it registers, before anything can be sent."""
    sms = plugins()[Channel.SMS]
    with pytest.raises(ValueError, match="written_contact_only"):
        replace(sms, spoken=True)
    excluded = {**sms.excluded_by, Need.WRITTEN_CONTACT_ONLY: "a call cannot be read"}
    assert replace(sms, spoken=True, excluded_by=excluded).spoken
