"""What each accessibility need changes in routing and wording (the README's table).

Pure functions, used by the delivery worker and by previews, so that the behaviour for a
need is defined in one place:

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
from notifier.templates.segments import Normalization, SmsInfo, analyze, normalize

BASIC_PHONE_MAX_SEGMENTS = 2


def excluded_channel(channel: Channel, needs: Iterable[Need]) -> str | None:
    """Why ``channel`` must not be used for someone with ``needs``; None if it may."""
    excluded_by = plugin(channel).excluded_by
    return next((excluded_by[need] for need in needs if need in excluded_by), None)


def prepare_sms(
    text: str, needs: Iterable[Need], normalization: Normalization
) -> tuple[str, SmsInfo, str | None]:
    """The SMS as it will be sent, its encoding and length, and why it cannot go, if so.

    A basic phone may not reassemble long or UCS-2 messages well: for ``no_smartphone`` the
    text is always normalised to GSM-7 and must fit in two segments.
    """
    basic_phone = Need.NO_SMARTPHONE in set(needs)
    text = normalize(text, "gsm" if basic_phone else normalization)
    info = analyze(text)
    if basic_phone and (info.encoding != "GSM-7" or info.segments > BASIC_PHONE_MAX_SEGMENTS):
        return (
            text,
            info,
            (
                f"too long for a basic phone: {info.encoding}, {info.segments} segments "
                f"(at most {BASIC_PHONE_MAX_SEGMENTS} in GSM-7)"
            ),
        )
    return text, info, None
