"""The code gate of a person with discreet messages: a link alone opens nothing sensitive.

Whoever holds the phone can follow the link of a discreet message. For such a person, every
page shows only a neutral welcome and the quick exit (``gate.html``: no service named, title
"Mon espace") until the short code they chose is entered; then a session (a random id in an
HttpOnly, SameSite=Strict cookie limited to the pages under /me/, the session itself in Redis:
:mod:`notifier.store.pages_sessions`) opens them for :data:`SESSION_SECONDS`. The quick exit
ends it; a new code ends all of the person's. A code is set by an agent (``POST
/v1/recipients/{id}/code``, or the console at the person's request), or chosen by the person
on the Staying safe page as they turn discreet messages on there (they are inside already).
Nobody chooses it at the gate: whoever opens the link first may be the one reading the
person's phone. Without a code the gate only says to ask their usual contact for one.
Wrong codes are slowed (the next try is refused, uncounted, until
:data:`notifier.store.pages_codes.CODE_DELAY` has passed: the store keeps the time, no thread
waits) and limited (:data:`notifier.store.pages_codes.CODE_TRIES`, then
:data:`~notifier.store.pages_codes.CODE_LOCKOUTS`). This module is the check every page makes;
the gate's page and the code's route are in :mod:`notifier.web.safety_page`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request

from notifier.api.deps import Engine
from notifier.links import Grant
from notifier.models import Recipient
from notifier.runtime.settings import Settings
from notifier.store.pages_sessions import SESSION_SECONDS, PagesSessions

COOKIE = "espace"
__all__ = [
    "COOKIE",
    "SESSION_SECONDS",
    "Gated",
    "behind_code",
    "is_open",
    "require_open",
    "secure_cookies",
]


class Gated(Exception):
    """A discreet person's page asked without an open session: the gate is shown instead
    (``no_code``: none is set, so the gate offers nothing to type; ``error``: the words of a
    refused code; ``left``: the tries left before a lock)."""

    def __init__(
        self,
        token: str,
        lang: str,
        no_code: bool,
        error: str = "",
        status: int = 200,
        left: int = 0,
    ) -> None:
        self.token, self.lang, self.no_code = token, lang, no_code
        self.error, self.status, self.left = error, status, left
        super().__init__("gated")


def behind_code(request: Request, who: Recipient) -> bool:
    """The person's pages open only with the code: they have discreet messages, or the link
    is on the neutral host (:class:`notifier.api.http.NeutralHost`). Only discreet messages
    carry links there, and such a link stays in the watched phone's messages after discreet
    messages are turned off: it must not open pages that name the service."""
    return who.safe.discreet or bool(getattr(request.state, "neutral_host", False))


def is_open(request: Request, parts: Engine, grant: Grant, who: Recipient) -> bool:
    """The person's pages may show: not :func:`behind_code`, or a session opened by it."""
    if not behind_code(request, who):
        return True
    cookie = request.cookies.get(COOKIE, "")
    return PagesSessions(parts.store.redis).opens(cookie, grant.tenant, who.id)


def require_open(request: Request, parts: Engine, grant: Grant, who: Recipient, lang: str) -> None:
    """Raise :class:`Gated` unless :func:`is_open`; pages behind the code say so to the
    templates (the neutral frame)."""
    request.state.discreet = behind_code(request, who)
    if not is_open(request, parts, grant, who):
        token = request.path_params["token"]
        raise Gated(token, lang, no_code=not parts.recipients.has_code(grant.tenant, who.id))


def secure_cookies(request: Request, settings: Settings) -> bool:
    """Whether a session cookie (the pages', the console's) is ``Secure``: always when a
    public URL is https (behind a TLS proxy the request itself may read as http), and when
    the request came over https."""
    public = (settings.public_url, settings.discreet_public_url)
    return request.url.scheme == "https" or any(
        url and urlsplit(url).scheme == "https" for url in public
    )
