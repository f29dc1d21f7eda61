"""Delivery channels: one module per provider behind one interface (:mod:`.base`), each
registering a plugin (:mod:`.registry`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from notifier.channels.base import Transport
from notifier.channels.outbox import OutboxTransport
from notifier.channels.registry import plugins
from notifier.models import Channel

if TYPE_CHECKING:
    from notifier.runtime.settings import Settings


def transports_for(settings: Settings) -> dict[Channel, Transport]:
    """The transport of each channel: its provider when configured, else the dev outbox."""
    outbox = OutboxTransport(settings.outbox_dir)
    return {
        channel: plugin.build(settings) if plugin.configured(settings) else outbox
        for channel, plugin in plugins().items()
    }
