"""What a template sees: the message's data and the reader's language, zone and needs.

Contacts are deliberately absent: a text never needs them. ``links`` holds the signed
links of this reader (their pages; for an optional category, its one-click unsubscribe),
empty when no public URL is configured.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from notifier.models import Channel, Need, PlannedMessage


def template_context(
    message: PlannedMessage,
    channel: Channel | None = None,
    links: Mapping[str, str] | None = None,
) -> dict[str, object]:
    return {
        "channel": channel.value if channel else None,
        "needs": template_flags(message.recipient.needs),
        "data": message.data,
        "subject": message.subject,
        "event_type": message.event_type,
        "due_at": message.due_at,
        "locale": message.recipient.locale,
        "timezone": message.recipient.timezone,
        "links": dict(links or {}),
    }


def template_flags(needs: Iterable[Need]) -> dict[str, bool]:
    """``needs`` for templates: ``{% if needs.written_contact_only %}…{% endif %}``."""
    declared = set(needs)
    return {need.value: need in declared for need in Need}
