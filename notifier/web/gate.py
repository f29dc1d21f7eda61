"""The code gate of a person with discreet messages: a link alone opens nothing sensitive.

Whoever holds the phone can follow the link of a discreet message. For such a person, every
page shows only a neutral welcome and the quick exit (``gate.html``: no service named, title
"Mon espace") until the short code they chose is entered; then a session cookie, signed,
HttpOnly, SameSite=Strict, limited to the pages under /me/, opens them for
:data:`SESSION_SECONDS`. A code is set by an agent at intake (``POST
/v1/recipients/{id}/code``) or chosen at the first visit when none was. Wrong codes are
slowed (:data:`WRONG_CODE_DELAY`) and limited (:data:`notifier.recipients.CODE_TRIES`).
"""

from __future__ import annotations

import logging
import re
import time
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from notifier.api.deps import Engine
from notifier.links import Grant
from notifier.models import Recipient, recipient_key
from notifier.web.guard import check_csrf, csrf_token

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
SESSION_SECONDS = 15 * 60
WRONG_CODE_DELAY = 1.0
COOKIE = "espace"
CODE = re.compile(r"^[0-9]{4,8}$")


class Gated(Exception):
    """A discreet person's page asked without an open session: the gate is shown instead."""

    def __init__(self, token: str, lang: str, first: bool, error: str = "", status: int = 200):
        self.token, self.lang, self.first, self.error, self.status = (
            token,
            lang,
            first,
            error,
            status,
        )
        super().__init__("gated")


def _sessions(parts: Engine) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(parts.settings.secret(), salt="notifier.pages-gate")


def is_open(request: Request, parts: Engine, grant: Grant, who: Recipient) -> bool:
    """The person's pages may show: no discreet messages, or a session opened by the code."""
    if not who.safe.discreet:
        return True
    cookie = request.cookies.get(COOKIE, "")
    opened = recipient_key(grant.tenant, who.id)
    try:
        return bool(cookie) and _sessions(parts).loads(cookie, max_age=SESSION_SECONDS) == opened
    except BadSignature:
        return False


def require_open(request: Request, parts: Engine, grant: Grant, who: Recipient, lang: str) -> None:
    """Raise :class:`Gated` unless :func:`is_open`; a discreet person's pages say so to the
    templates (a neutral title)."""
    request.state.discreet = who.safe.discreet
    if not is_open(request, parts, grant, who):
        token = request.path_params["token"]
        raise Gated(token, lang, first=not parts.recipients.has_code(grant.tenant, who.id))


def gate_page(request: Request, exc: Gated) -> HTMLResponse:
    from notifier.web.pages import NO_STORE, templates
    from notifier.web.text import TEXT

    parts = request.app.state.engine
    context = {
        "t": TEXT[exc.lang],
        "lang": exc.lang,
        "token": exc.token,
        "first": exc.first,
        "error": exc.error,
        "csrf": csrf_token(parts.settings.secret(), exc.token),
        "path": request.url.path,
        "exit_url": parts.settings.quick_exit_url,
    }
    return templates.TemplateResponse(
        request, "gate.html", context, status_code=exc.status, headers=NO_STORE
    )


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
    from notifier.web.pages import PAGES, granted, guarded, person
    from notifier.web.text import language

    parts = guarded(request, request.app.state.engine)
    lang = language(lang, None)
    grant = granted(parts, token, PAGES, lang)
    check_csrf(parts.settings.secret(), token, csrf, lang)
    who = person(request, parts, grant, lang, gate=False)
    first = not parts.recipients.has_code(grant.tenant, who.id)
    if first:
        if not CODE.match(code):
            raise Gated(token, lang, first, "gate.format", 422)
        if code != again:
            raise Gated(token, lang, first, "gate.mismatch", 422)
        parts.recipients.set_code(grant.tenant, who.id, code)
        log.info("citizen pages: a code was chosen at the first visit")
    else:
        verdict = parts.recipients.check_code(grant.tenant, who.id, code)
        if verdict != "ok":
            time.sleep(WRONG_CODE_DELAY)  # slowed, and limited by the store's count
            log.info("citizen pages: a wrong code (%s)", verdict)
            status = 429 if verdict == "locked" else 403
            raise Gated(token, lang, first, f"gate.{verdict}", status)
    response = RedirectResponse(f"/me/{token}?lang={lang}", status_code=303)
    response.set_cookie(
        COOKIE,
        _sessions(parts).dumps(recipient_key(grant.tenant, who.id)),
        max_age=SESSION_SECONDS,
        path="/me/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response
