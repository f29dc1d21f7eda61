"""The "Staying safe" page (``/me/<token>/safety``): the person sets their own safety settings
(discreet messages, pause, safe channels, safe hours); theirs win over what an upstream
system registered. Behind the code gate like every page once discreet messages are on; the
gate's own page and its code (``/me/<token>/code``) are here too, the check in
:mod:`notifier.web.gate`."""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from redis.exceptions import RedisError

from notifier.channels.registry import address_of
from notifier.links import PAGES
from notifier.models import Channel, Need, Recipient, SafeHours, Safety, Weekday
from notifier.store.pages_sessions import SESSION_SECONDS, PagesSessions
from notifier.store.safety_decisions import Stale, version
from notifier.web.gate import COOKIE, Gated, secure_cookies
from notifier.web.guard import PageError, check_csrf, csrf_token
from notifier.web.pages import NO_STORE, Parts, granted, guarded, page, person, templates
from notifier.web.safety_text import EASY
from notifier.web.text import CHANNELS, TEXT, language

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
leave = APIRouter(include_in_schema=False)  # before the pages' router: /me/{token} is not it
CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
NEW_CODE = re.compile(r"^[0-9]{6,8}$")  # a code chosen now; an older 4-digit one still opens
CLEAR_SITE_DATA = '"cache", "cookies", "storage"'


def safety_from_form(
    discreet: bool,
    paused: bool,
    channels: list[str],
    start: str,
    end: str,
    offered: list[Channel],
    current: frozenset[Channel] | None = None,
    days: frozenset[Weekday] | None = None,
) -> Safety | None:
    """The settings the form says; None if it cannot be read (a time that is not a time, a
    window that is empty). The form never opens a channel that was closed: with no box ticked
    the safe channels stay as they were (``current``, None for any), and a restriction on a
    channel the form does not offer (no contact for it yet) is kept. The form has no days:
    the safe hours keep those in force (``days``; every day if none were set)."""
    safe_hours = None
    if start or end:
        if not (CLOCK.match(start) and CLOCK.match(end)) or start == end:
            return None
        safe_hours = SafeHours(start=start, end=end, days=days or frozenset(Weekday))
    chosen = frozenset(Channel(c) for c in channels if c in {o.value for o in offered})
    if not chosen:
        limited = current
    elif current is None and chosen == frozenset(offered):
        limited = None  # every channel offered, none closed before: any
    else:
        limited = chosen | ((current or frozenset()) - frozenset(offered))
    return Safety(discreet=discreet, paused=paused, channels=limited, safe_hours=safe_hours)


@router.get("/me/{token}/safety", response_class=HTMLResponse)
def safety(request: Request, token: str, parts: Parts, lang: str | None = None) -> Response:
    grant = granted(parts, token, PAGES, language(lang, None))
    who = person(request, parts, grant, language(lang, None))
    lang = language(lang, who.locale)
    offered = [c for c in CHANNELS if address_of(who.contacts, c) is not None]
    settings = who.safe
    return page(
        request,
        "safety.html",
        lang,
        token,
        "safety",
        settings=settings,
        offered=offered,
        safe_channels=settings.channels or frozenset(offered),
        saved=request.query_params.get("saved") == "1",
        error=request.query_params.get("error") == "1",
        stale=request.query_params.get("stale") == "1",
        seen=version(settings),
        **easy_words(who, lang),
    )


def easy_words(who: Recipient, lang: str) -> dict[str, Any]:
    """For a person who asked for easy-to-read wording, the page's words in it."""
    if Need.EASY_READ not in who.needs:
        return {}
    return {"t": TEXT[lang] | EASY[lang]}


@router.post("/me/{token}/safety")
def save_safety(
    request: Request,
    token: str,
    parts: Parts,
    csrf: Annotated[str, Form()] = "",
    lang: Annotated[str, Form()] = "fr",
    discreet: Annotated[str | None, Form()] = None,
    paused: Annotated[str | None, Form()] = None,
    send_missed: Annotated[str | None, Form()] = None,
    channel: Annotated[list[str] | None, Form()] = None,
    start: Annotated[str, Form(max_length=5)] = "",
    end: Annotated[str, Form(max_length=5)] = "",
    seen: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """The settings the form says, unless those in force changed since it was shown (an
    event tightened them): then nothing is saved and the page shows them, asking to review."""
    lang = language(lang, None)
    grant = granted(parts, token, PAGES, lang)
    check_csrf(parts.settings.secret(), token, csrf, lang)
    who = person(request, parts, grant, lang)
    offered = [c for c in CHANNELS if address_of(who.contacts, c) is not None]
    chosen = safety_from_form(
        bool(discreet),
        bool(paused),
        channel or [],
        start.strip(),
        end.strip(),
        offered,
        who.safe.channels,
        who.safe.safe_hours.days if who.safe.safe_hours else None,
    )
    if chosen is None:
        return RedirectResponse(f"/me/{token}/safety?error=1&lang={lang}", status_code=303)
    try:
        parts.recipients.set_safety(
            grant.tenant, who.id, chosen, by="person", at=parts.clock(), seen=seen
        )
    except Stale:
        log.info("citizen pages: a stale safety form was refused")
        return RedirectResponse(f"/me/{token}/safety?stale=1&lang={lang}", status_code=303)
    if who.safe.paused and not chosen.paused and send_missed:
        resent = parts.recipients.resend_withheld(grant.tenant, who.id, parts.store, parts.clock())
        log.info("citizen pages: contact resumed, %d withheld sent again", len(resent))
    log.info("citizen pages: safety settings saved")
    # with discreet messages just turned on, the next page asks for (or to choose) the code
    return RedirectResponse(f"/me/{token}/safety?saved=1&lang={lang}", status_code=303)


def gate_page(request: Request, exc: Gated) -> HTMLResponse:
    parts = request.app.state.engine
    t = TEXT[language(exc.lang, None)]
    context = {
        "t": t,
        "lang": exc.lang,
        "token": exc.token,
        "first": exc.first,
        "error": t[exc.error].format(left=exc.left) if exc.error else "",
        "csrf": csrf_token(parts.settings.secret(), exc.token),
        "path": request.url.path,
    }
    return templates.TemplateResponse(
        request, "gate.html", context, status_code=exc.status, headers=NO_STORE
    )


REFUSED = {"wrong": 403, "early": 429, "locked": 429, "shut": 403}


@router.post("/me/{token}/code")
def enter_code(
    request: Request,
    token: str,
    csrf: Annotated[str, Form()] = "",
    lang: Annotated[str, Form()] = "fr",
    code: Annotated[str, Form(max_length=64)] = "",
    again: Annotated[str | None, Form(max_length=64)] = None,
) -> Response:
    """The code typed on the gate (``again``: the same, when choosing it at the first visit)."""
    parts = guarded(request, request.app.state.engine)
    lang = language(lang, None)
    grant = granted(parts, token, PAGES, lang)
    check_csrf(parts.settings.secret(), token, csrf, lang)
    who = person(request, parts, grant, lang, gate=False)
    if not who.safe.discreet:  # else whoever holds the link could choose the code first
        raise PageError(404, "error.unknown", lang)
    first = not parts.recipients.has_code(grant.tenant, who.id)
    if first:
        if not NEW_CODE.match(code):
            raise Gated(token, lang, first, "gate.format", 422)
        if code != again:
            raise Gated(token, lang, first, "gate.mismatch", 422)
        parts.recipients.set_code(grant.tenant, who.id, code)
        log.info("citizen pages: a code was chosen at the first visit")
    else:
        verdict, left = parts.recipients.check_code(grant.tenant, who.id, code)
        if verdict != "ok":  # slowed and limited by the store (no thread held here)
            log.info("citizen pages: a wrong code (%s)", verdict)
            words = "gate.wrong.last" if verdict == "wrong" and left == 1 else f"gate.{verdict}"
            raise Gated(token, lang, first, words, REFUSED[verdict], left)
    response = RedirectResponse(f"/me/{token}?lang={lang}", status_code=303)
    response.set_cookie(
        COOKIE,
        PagesSessions(parts.store.redis).open(grant.tenant, who.id),
        max_age=SESSION_SECONDS,
        path="/me/",
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request, parts.settings),
    )
    return response


@leave.get("/me/exit")
def quick_exit(request: Request) -> Response:
    """ "Quitter rapidement": the code's session ends on the server, the browser is told to
    forget this site (its cookies, cache and storage), and the neutral site replaces the page.
    Reached by the control's plain link and by its script (``location.replace``)."""
    parts = request.app.state.engine
    try:
        PagesSessions(parts.store.redis).close(request.cookies.get(COOKIE, ""))
    except RedisError:  # leaving must never fail: the session expires by itself
        log.warning("quick exit: the session could not be ended (Redis unavailable)")
    response = RedirectResponse(parts.settings.quick_exit_url, status_code=303)
    response.delete_cookie(COOKIE, path="/me/")
    response.headers.update(NO_STORE | {"Clear-Site-Data": CLEAR_SITE_DATA})
    return response
