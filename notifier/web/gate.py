"""The code gate of a person with discreet messages: a link alone opens nothing sensitive.

Whoever holds the phone can follow the link of a discreet message. For such a person, every
page shows only a neutral welcome and the quick exit (``gate.html``: no service named, title
"Mon espace") until the short code they chose is entered; then a session cookie, signed,
HttpOnly, SameSite=Strict, limited to the pages under /me/, opens them for
:data:`SESSION_SECONDS`. A code is set by an agent at intake (``POST
/v1/recipients/{id}/code``) or chosen at the first visit when none was. Wrong codes are
slowed (:data:`notifier.web.safety_page.WRONG_CODE_DELAY`) and limited
(:data:`notifier.store.recipients.CODE_TRIES`). This module is the check every page makes; the
gate's page and the code's route are in :mod:`notifier.web.safety_page`.
"""

from __future__ import annotations

from fastapi import Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from notifier.api.deps import Engine
from notifier.links import Grant
from notifier.models import Recipient, recipient_key

SESSION_SECONDS = 15 * 60
COOKIE = "espace"


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


def sessions(parts: Engine) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(parts.settings.secret(), salt="notifier.pages-gate")


def is_open(request: Request, parts: Engine, grant: Grant, who: Recipient) -> bool:
    """The person's pages may show: no discreet messages, or a session opened by the code."""
    if not who.safe.discreet:
        return True
    cookie = request.cookies.get(COOKIE, "")
    opened = recipient_key(grant.tenant, who.id)
    try:
        return bool(cookie) and sessions(parts).loads(cookie, max_age=SESSION_SECONDS) == opened
    except BadSignature:
        return False


def require_open(request: Request, parts: Engine, grant: Grant, who: Recipient, lang: str) -> None:
    """Raise :class:`Gated` unless :func:`is_open`; a discreet person's pages say so to the
    templates (a neutral title)."""
    request.state.discreet = who.safe.discreet
    if not is_open(request, parts, grant, who):
        token = request.path_params["token"]
        raise Gated(token, lang, first=not parts.recipients.has_code(grant.tenant, who.id))
