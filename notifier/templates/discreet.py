"""The generic discreet message: what a person with discreet messages gets when a template
has no discreet variant for their channel. It names no service, procedure, offence, unit
or address: whoever holds the phone learns only that there is a message, and the link to
the person's pages (which ask for their code before showing anything)."""

from __future__ import annotations

from collections.abc import Mapping

from notifier.models import Channel

WORDING = {
    "fr": {
        "title": "Nouveau message",
        "short": "Vous avez un nouveau message.",
        "read": "Consultez-le : {link}",
        "hello": "Bonjour,",
    },
    "en": {
        "title": "New message",
        "short": "You have a new message.",
        "read": "Read it: {link}",
        "hello": "Hello,",
    },
}


def generic(channel: Channel, locale: str, links: Mapping[str, str]) -> dict[str, str]:
    """Every part of the generic discreet message for ``channel``, in ``locale``'s language
    (French when there is no wording in it)."""
    words = WORDING.get(locale.split("-", 1)[0], WORDING["fr"])
    link = links.get("pages")
    read = words["read"].format(link=link) if link else ""
    line = f"{words['short']} {read}".strip()
    if channel is Channel.SMS:
        return {"text": line}
    if channel is Channel.EMAIL:
        return {"subject": words["title"], "text": f"{words['hello']}\n\n{line}"}
    return {"title": words["title"], "body": words["short"]} | ({"url": link} if link else {})
