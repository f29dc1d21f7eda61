"""Every delivery channel, found by name: one module per channel registers a :class:`Plugin`.

A plugin says what its templates render (the parts), how its transport is built from the
settings when its provider is configured (else the dev outbox serves it), and its shared
rate limit. Templates, the worker and the settings' users read them here, so a channel's
facts live in its own module (as Apprise does with one class per service).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from notifier.models import Channel

if TYPE_CHECKING:
    from notifier.channels.base import Transport
    from notifier.settings import Settings

# The modules that register a plugin; each channel of :class:`Channel` has one.
MODULES = ("notifier.channels.sms", "notifier.channels.email", "notifier.channels.webpush")


@dataclass(frozen=True)
class Plugin:
    channel: Channel
    required_parts: tuple[str, ...]  # template files every template of the channel has
    optional_parts: tuple[str, ...]  # rendered when present (e-mail HTML, a push's URL)
    configured: Callable[[Settings], bool]  # its provider is set up in these settings
    build: Callable[[Settings], Transport]  # its transport, when configured
    rate_limit: Callable[[Settings], int]  # sends per second, all workers together (0: none)

    @property
    def parts(self) -> tuple[str, ...]:
        return self.required_parts + self.optional_parts


_PLUGINS: dict[Channel, Plugin] = {}


def register(plugin: Plugin) -> Plugin:
    """Called by each channel module when it is imported."""
    _PLUGINS[plugin.channel] = plugin
    return plugin


def plugins() -> Mapping[Channel, Plugin]:
    """Every channel's plugin, its module imported on first use."""
    if len(_PLUGINS) < len(Channel):
        for module in MODULES:
            importlib.import_module(module)
        missing = set(Channel) - set(_PLUGINS)
        if missing:
            raise RuntimeError(f"no plugin registers the channels {sorted(missing)}")
    return _PLUGINS


def plugin(channel: Channel) -> Plugin:
    return plugins()[channel]
