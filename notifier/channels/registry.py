"""Every delivery channel, found by name: one module per channel registers a :class:`Plugin`.

A plugin says which of a recipient's contacts is its address, which accessibility needs
exclude it, its name in each language of the pages, what its templates render (the parts),
what it does to a rendered message before sending it (an SMS's encoding and length), its
settings (a :class:`ChannelSettings` model: ``Settings`` is composed of every channel's), how
its transport is built from them when its provider is configured (else the dev outbox serves
it), its shared rate limit and its provider's delivery receipts. Templates,
routing, the worker, the pages, the metrics, the API and the CLI read them here, so a
channel's facts live in its own module (as Apprise does with one class per service). The
modules are found, not listed: every module of this package is imported, and those that are
channels register.

A channel's module imports its provider's SDK only when it builds or uses a transport, so
that reading the registry (the templates, the rules tools do) does not load twilio & co.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Self

from pydantic import BaseModel

from notifier.channels.segments import Normalization
from notifier.models import Channel, Contacts, Need

if TYPE_CHECKING:
    from notifier.channels.base import Transport
    from notifier.channels.receipts import Receipts
    from notifier.runtime.settings import Settings


class ChannelSettings(BaseModel):
    """The settings one channel declares, in its module: ``NOTIFIER_`` and the field's name
    in capitals is its environment variable, as for every setting. They are fields of
    :class:`notifier.runtime.settings.Settings` (composed of every channel's), read, checked
    and reported like the others; the channel reads its own with :meth:`of`. Fields and their
    validators only, named after the channel or its provider: the models make one class, where
    a name declared twice would silently replace the other (tests/test_channel_settings.py)."""

    @classmethod
    def of(cls, settings: BaseModel) -> Self:
        """This channel's settings among the whole ``settings``."""
        if not isinstance(settings, cls):
            raise TypeError(f"{type(settings).__name__} is not composed of {cls.__name__}")
        return settings


@dataclass(frozen=True)
class Prepared:
    """A rendered message as its channel will send it: ``metadata`` for the transport,
    ``sizes`` for the delivery record, ``report`` for previews, and why it cannot go, if so."""

    parts: dict[str, str]
    metadata: dict[str, str] = field(default_factory=dict)
    sizes: str = ""
    report: str = ""
    problem: str | None = None


# rendered parts, the person's needs, the SMS normalisation setting → the message to send
Preparation = Callable[[Mapping[str, str], Collection[Need], Normalization], Prepared]


@dataclass(frozen=True)
class Plugin:
    channel: Channel
    address: Callable[[Contacts], str | None]  # its address among the contacts, None if none
    shown: Callable[[Contacts], str | None] | None  # that contact masked for its owner's pages
    excluded_by: Mapping[Need, str]  # needs that rule it out, and why (said to operators)
    labels: Mapping[str, Mapping[str, str]]  # language → page text key → text (see web.text)
    required_parts: tuple[str, ...]  # template files every template of the channel has
    optional_parts: tuple[str, ...]  # rendered when present (e-mail HTML, a push's URL)
    settings: type[ChannelSettings]  # what it declares: its fields join Settings
    configured: Callable[[Settings], bool]  # its provider is set up in these settings
    build: Callable[[Settings], Transport]  # its transport, when configured
    rate_limit: Callable[[Settings], int]  # sends per second, all workers together (0: none)
    prepare: Preparation | None = None  # after rendering, before sending (None: as rendered)
    # configured without NOTIFIER_PUBLIC_URL, what its messages would lack: the engine refuses
    # to start rather than send them so (None: it needs no public URL)
    without_public_url: str | None = None
    receipts: Receipts | None = None  # its provider's delivery receipts, if it sends any
    spoken: bool = False  # it speaks to the person (a call): never for written contact only

    def __post_init__(self) -> None:
        if self.spoken and Need.WRITTEN_CONTACT_ONLY not in self.excluded_by:
            raise ValueError(
                f"channel {self.channel}: a spoken channel must be excluded by "
                f"{Need.WRITTEN_CONTACT_ONLY} (deaf and hard-of-hearing people: no voice, ever)"
            )

    @property
    def parts(self) -> tuple[str, ...]:
        return self.required_parts + self.optional_parts


_PLUGINS: dict[Channel, Plugin] = {}
_ORDERED: dict[Channel, Plugin] = {}  # the same, in the order of Channel, once all are in


def register(plugin: Plugin) -> Plugin:
    """Called by each channel module when it is imported."""
    _PLUGINS[plugin.channel] = plugin
    return plugin


def plugins() -> Mapping[Channel, Plugin]:
    """Every channel's plugin, in the order of :class:`Channel`; the modules of this package
    are imported on first use, and each channel's registers its plugin."""
    if len(_ORDERED) < len(Channel):
        folder = str(Path(__file__).parent)
        for module in pkgutil.iter_modules([folder], f"{__package__}."):
            importlib.import_module(module.name)
        missing = set(Channel) - set(_PLUGINS)
        if missing:
            raise RuntimeError(f"no plugin registers the channels {sorted(missing)}")
        _ORDERED.update((channel, _PLUGINS[channel]) for channel in Channel)
    return _ORDERED


def settings_models() -> tuple[type[ChannelSettings], ...]:
    """Every channel's settings model, in the order of :class:`Channel` (once, should two
    channels of one provider share theirs)."""
    return tuple(dict.fromkeys(plugin.settings for plugin in plugins().values()))


def plugin(channel: Channel) -> Plugin:
    return plugins()[channel]


def address_of(contacts: Contacts, channel: Channel) -> str | None:
    """The contact to use on ``channel``, or None when the recipient has none."""
    return plugin(channel).address(contacts)
