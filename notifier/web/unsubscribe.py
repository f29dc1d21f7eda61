"""One-click unsubscribe (``/u/<token>``, RFC 8058): one optional category on one channel.

The link grants nothing else (:mod:`notifier.links`: its purpose refuses the pages), so it
is not behind the code gate; for a person with discreet messages its page is the neutral
frame and names neither the service nor the kind of message.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from notifier.api.deps import Engine
from notifier.links import UNSUBSCRIBE, Grant
from notifier.models import Channel, OptOut, Recipient
from notifier.web.guard import check_csrf
from notifier.web.pages import Parts, categories, granted, page, person
from notifier.web.text import TEXT, language

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)


@router.get("/u/{token}", response_class=HTMLResponse)
def unsubscribe_page(
    request: Request, token: str, parts: Parts, lang: str | None = None
) -> Response:
    """Confirmation only: mail scanners follow links, so a GET changes nothing."""
    grant = granted(parts, token, UNSUBSCRIBE, language(lang, None))
    who = person(request, parts, grant, language(lang, None), gate=False)
    lang = language(lang, who.locale)
    return unsubscribe_answer(request, parts, grant, who, lang, token, done=False)


@router.post("/u/{token}", response_class=HTMLResponse)
async def unsubscribe(request: Request, token: str, parts: Parts) -> Response:
    """RFC 8058 one-click (``List-Unsubscribe=One-Click``, no cookie, no page), or the
    confirmation page's form (CSRF-checked). Not behind the code gate: the link unsubscribes
    from one kind of message on one channel and opens nothing else, and its pages name
    nothing for a person with discreet messages."""
    form = await request.form()
    lang = language(str(form.get("lang") or ""), None)
    grant = granted(parts, token, UNSUBSCRIBE, lang)
    one_click = form.get("List-Unsubscribe") == "One-Click"
    if not one_click:
        check_csrf(parts.settings.secret(), token, str(form.get("csrf") or ""), lang)
    who = person(request, parts, grant, lang, gate=False)
    assert grant.category is not None and grant.channel is not None
    channel = Channel(grant.channel)
    if who.refusal(channel, grant.category) is None:
        opt_outs = (*who.opt_outs, OptOut(category=grant.category, channels=frozenset({channel})))
        parts.recipients.set_choices(grant.tenant, who.id, who.needs, opt_outs)
    log.info(
        "unsubscribed from a category on %s (%s)",
        channel.value,
        "one-click" if one_click else "page",
    )
    if one_click:
        return Response(status_code=200)
    lang = language(lang, who.locale)
    return unsubscribe_answer(request, parts, grant, who, lang, token, done=True)


def unsubscribe_answer(
    request: Request, parts: Engine, grant: Grant, who: Recipient, lang: str, token: str, done: bool
) -> HTMLResponse:
    """The unsubscribe page; for a person with discreet messages, in the neutral frame,
    naming neither the service nor the kind of message."""
    name = "unsubscribe_neutral.html" if who.safe.discreet else "unsubscribe.html"
    return page(request, name, lang, token, "", done=done, **described(parts, grant, lang))


def described(parts: Engine, grant: Grant, lang: str) -> dict[str, Any]:
    """What the unsubscribe page names; never a way into the pages (one link, one purpose)."""
    category = categories(parts, lang).get(grant.category or "", grant.category)
    channel = TEXT[lang][f"channel.{grant.channel}"].lower() if grant.channel else ""
    return {"category": category, "channel": channel}
