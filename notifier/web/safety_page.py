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

from notifier.api.deps import Engine
from notifier.channels.registry import address_of
from notifier.links import PAGES
from notifier.models import Channel, Need, Recipient, SafeHours, Safety, Weekday
from notifier.store.pages_codes import guessable
from notifier.store.pages_sessions import SESSION_SECONDS, PagesSessions
from notifier.store.safety_decisions import Stale, version
from notifier.web.gate import COOKIE, Gated, behind_code, secure_cookies
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
ERRORS = {
    "hours": "safety.error",
    "format": "gate.format",
    "mismatch": "gate.mismatch",
    "guessable": "gate.guessable",
}


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
        error=ERRORS.get(request.query_params.get("error", ""), ""),
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
    code: Annotated[str, Form(max_length=64)] = "",
    again: Annotated[str, Form(max_length=64)] = "",
    seen: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """The person's settings. Turning discreet messages on here needs the code they choose
    now (``code``, ``again``): they are inside their pages already, and stay so. Nothing is
    saved when the settings in force changed since the form was shown (an event tightened
    them): the page shows them, asking to review."""
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
    turning_discreet = chosen is not None and chosen.discreet and not who.safe.discreet
    refused = "hours" if chosen is None else code_refused(code, again) if turning_discreet else ""
    if chosen is None or refused:
        return RedirectResponse(f"/me/{token}/safety?error={refused}&lang={lang}", status_code=303)
    try:
        parts.recipients.set_safety(
            grant.tenant, who.id, chosen, by="person", at=parts.clock(), seen=seen
        )
    except Stale:
        log.info("citizen pages: a stale safety form was refused")
        return RedirectResponse(f"/me/{token}/safety?stale=1&lang={lang}", status_code=303)
    if turning_discreet:
        parts.recipients.set_code(grant.tenant, who.id, code)
        log.info("citizen pages: a code was chosen as discreet messages were turned on")
    if who.safe.paused and not chosen.paused and send_missed:
        resent = parts.recipients.resend_withheld(grant.tenant, who.id, parts.store, parts.clock())
        log.info("citizen pages: contact resumed, %d withheld sent again", len(resent))
    log.info("citizen pages: safety settings saved")
    response = RedirectResponse(f"/me/{token}/safety?saved=1&lang={lang}", status_code=303)
    if turning_discreet:  # the person stays inside: the code just chosen opened a session
        open_session(request, response, parts, grant.tenant, who.id)
    return response


def code_refused(code: str, again: str) -> str:
    """Why a code chosen on the page cannot be kept (``format``, ``guessable``, ``mismatch``);
    "" if it can."""
    if not NEW_CODE.match(code):
        return "format"
    if guessable(code):
        return "guessable"
    return "" if code == again else "mismatch"


def open_session(
    request: Request, response: Response, parts: Engine, tenant: str, recipient: str
) -> None:
    """A session of the person's pages, its id in the cookie ``response`` sets."""
    response.set_cookie(
        COOKIE,
        PagesSessions(parts.store.redis).open(tenant, recipient),
        max_age=SESSION_SECONDS,
        path="/me/",
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request, parts.settings),
    )


def gate_page(request: Request, exc: Gated) -> HTMLResponse:
    parts = request.app.state.engine
    t = TEXT[language(exc.lang, None)]
    context = {
        "t": t,
        "lang": exc.lang,
        "token": exc.token,
        "no_code": exc.no_code,
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
) -> Response:
    """The code typed on the gate. None set: nothing to check (nor to choose here: whoever
    opened the link first may be the one reading the person's phone)."""
    parts = guarded(request, request.app.state.engine)
    lang = language(lang, None)
    grant = granted(parts, token, PAGES, lang)
    check_csrf(parts.settings.secret(), token, csrf, lang)
    who = person(request, parts, grant, lang, gate=False)
    if not behind_code(request, who):  # nothing to open
        raise PageError(404, "error.unknown", lang)
    if not parts.recipients.has_code(grant.tenant, who.id):
        raise Gated(token, lang, True, status=403)
    verdict, left = parts.recipients.check_code(grant.tenant, who.id, code)
    if verdict != "ok":  # slowed and limited by the store (no thread held here)
        log.info("citizen pages: a wrong code (%s)", verdict)
        words = "gate.wrong.last" if verdict == "wrong" and left == 1 else f"gate.{verdict}"
        raise Gated(token, lang, False, words, REFUSED[verdict], left)
    response = RedirectResponse(f"/me/{token}?lang={lang}", status_code=303)
    open_session(request, response, parts, grant.tenant, who.id)
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
