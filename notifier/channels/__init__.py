"""Delivery channels: one module per provider, one shared interface (:mod:`.base`)."""

from __future__ import annotations

from notifier.channels.base import Transport
from notifier.channels.outbox import OutboxTransport
from notifier.models import Channel
from notifier.settings import Settings


def transports_for(settings: Settings) -> dict[Channel, Transport]:
    """The transport of each channel: its provider when configured, else the dev outbox."""
    outbox = OutboxTransport(settings.outbox_dir)
    transports: dict[Channel, Transport] = dict.fromkeys(Channel, outbox)
    if settings.twilio_account_sid and settings.twilio_auth_token:
        from notifier.channels.sms import TwilioSmsTransport

        transports[Channel.SMS] = TwilioSmsTransport(
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            sender=settings.twilio_from,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            status_callback=settings.twilio_status_callback_url,
            api_base_url=settings.twilio_api_base_url,
            timeout=settings.provider_timeout_seconds,
            connections=settings.worker_sends_in_flight,
        )
    if settings.smtp_host and settings.smtp_from:
        import ssl

        from notifier.channels.email import SmtpEmailTransport

        cafile = str(settings.smtp_ca_file) if settings.smtp_ca_file else None
        transports[Channel.EMAIL] = SmtpEmailTransport(
            settings.smtp_host,
            settings.smtp_port,
            sender=settings.smtp_from,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            timeout=settings.provider_timeout_seconds,
            tls_context=ssl.create_default_context(cafile=cafile),
            max_connections=settings.smtp_max_connections,
        )
    if settings.vapid_private_key and settings.vapid_subject:
        from notifier.channels.webpush import WebPushTransport

        transports[Channel.WEBPUSH] = WebPushTransport(
            settings.vapid_private_key.get_secret_value(),
            settings.vapid_subject,
            timeout=settings.provider_timeout_seconds,
            connections=settings.worker_sends_in_flight,
        )
    return transports
