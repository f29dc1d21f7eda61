"""What each accessibility need changes in routing and wording (the README's table).

Pure functions, used by the delivery worker and by previews, so that the behaviour for a
need is defined in one place (an SMS's length and alphabet: in the SMS channel's preparation
step, :func:`notifier.channels.sms.prepare`):

==================== ===============================================================
written_contact_only no voice channel, ever (a spoken plug-in that does not exclude it is
                     refused at registration); templates offer SMS, e-mail or web contact
                     instead of a phone number, and safety messages give 114 by SMS
screen_reader        times written out for speech ("10 heures 30"); single-column HTML
easy_read            the easy-to-read (FALC) variant of a template when it exists
no_smartphone        no web push; SMS in GSM-7 (normalised) and at most 2 segments
==================== ===============================================================
"""

from __future__ import annotations

from collections.abc import Iterable

from notifier.channels.registry import plugin
from notifier.models import Channel, Need


def excluded_channel(channel: Channel, needs: Iterable[Need]) -> str | None:
    """Why ``channel`` must not be used for someone with ``needs``; None if it may."""
    excluded_by = plugin(channel).excluded_by
    return next((excluded_by[need] for need in needs if need in excluded_by), None)
