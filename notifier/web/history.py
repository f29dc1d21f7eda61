"""'What we sent you': the messages that reached the person in the last 30 days, and each
one whole on a page of its own.

A message sent in the discreet wording is listed in those words, what the person's phone
showed: whoever glances at the open list reads nothing more. Its whole text is one click
away, on its own page, behind the same code (:mod:`notifier.web.gate`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from notifier.api.deps import Engine
from notifier.links import PAGES
from notifier.models import Channel, MessageStatus, Recipient
from notifier.store import MessageRecord
from notifier.templates.context import template_context
from notifier.templates.renderer import Renderer
from notifier.web.guard import PageError
from notifier.web.pages import Parts, granted, messages_of, page, person
from notifier.web.text import language

router = APIRouter(include_in_schema=False)

HISTORY_DAYS = 30
REACHED = (MessageStatus.SENT, MessageStatus.DELIVERED)  # what "What we sent you" lists


@router.get("/me/{token}/history", response_class=HTMLResponse)
def history(request: Request, token: str, parts: Parts, lang: str | None = None) -> Response:
    grant = granted(parts, token, PAGES, language(lang, None))
    who = person(request, parts, grant, language(lang, None))
    lang = language(lang, who.locale)
    renderer, since = Renderer(parts.templates), oldest_shown(parts)
    rows = [row(renderer, record, who, since) for record in messages_of(parts, grant)]
    shown = [r for r in rows if r is not None]
    shown.sort(key=lambda r: r["at"].timestamp(), reverse=True)
    return page(request, "history.html", lang, token, "history", rows=shown, zone=who.timezone)


@router.get("/me/{token}/history/{message_id}", response_class=HTMLResponse)
def message(
    request: Request, token: str, message_id: str, parts: Parts, lang: str | None = None
) -> Response:
    """One message whole, in the words it would have had without discreet messages; only
    one that the list shows."""
    grant = granted(parts, token, PAGES, language(lang, None))
    who = person(request, parts, grant, language(lang, None))
    lang = language(lang, who.locale)
    record = next((r for r in messages_of(parts, grant) if r.id == message_id), None)
    found = row(Renderer(parts.templates), record, who, oldest_shown(parts)) if record else None
    if found is None:  # not theirs, not sent, older than the list, or gone: the same answer
        raise PageError(404, "error.unknown", lang)
    return page(
        request, "history_message.html", lang, token, "history", row=found, zone=who.timezone
    )


def oldest_shown(parts: Engine) -> datetime:
    """The earliest send the history shows, list and pages alike: :data:`HISTORY_DAYS` ago."""
    return parts.clock() - timedelta(days=HISTORY_DAYS)


def row(
    renderer: Renderer, record: MessageRecord, who: Recipient, since: datetime
) -> dict[str, Any] | None:
    """What the person is shown of a message that reached them ``since`` then (None if none
    did): when, by which channel, its whole text, and the discreet words it arrived in, if
    it did."""
    sent = next((h for h in reversed(record.history) if h.status is MessageStatus.SENT), None)
    if record.status not in REACHED or sent is None or sent.channel is None:
        return None  # planned, cancelled, failed: it never reached them
    if sent.at < since:
        return None  # past the list's days
    discreet = record.discreet if record.discreet is not None else who.safe.discreet
    return {
        "id": record.id,
        "at": sent.at,
        "channel": sent.channel,
        "status": record.status,
        "text": sent_text(renderer, record.message, who, sent.channel, discreet=False),
        "received": sent_text(renderer, record.message, who, sent.channel, discreet=True)
        if discreet
        else "",
    }


def sent_text(
    renderer: Renderer,
    message: Any,
    who: Recipient,
    channel: Channel | None,
    discreet: bool | None = None,
) -> str:
    """The message's words as its channel carries them (the SMS, the e-mail's text part),
    in the discreet wording or not as ``discreet`` says (None: as the person's settings say
    now)."""
    if channel is None:
        return ""
    message = message.model_copy(update={"recipient": who})
    try:
        parts = renderer.render(
            message.template,
            channel,
            who.locale,
            template_context(message, channel),
            easy_read="easy_read" in {n.value for n in who.needs},
            discreet=who.safe.discreet if discreet is None else discreet,
        )
    except Exception:  # a template since removed: the history still lists the message
        return ""
    return parts.get("text") or parts.get("body") or ""
