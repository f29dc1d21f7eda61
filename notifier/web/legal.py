"""What every French public site links to from each page's footer: the accessibility
statement, the legal notice and the personal data notice.

The statement is written here, from what the tests check; the legal notice and the personal
data notice are the operator's to write: settings give their addresses, and until then the
app serves a page saying they are not published yet.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from notifier.runtime.settings import Settings
from notifier.web.pages import NO_STORE, Parts, templates
from notifier.web.text import TEXT, language

router = APIRouter(include_in_schema=False)
neutral = APIRouter(include_in_schema=False)  # before the pages' router: /me/{token} is not it
ACCESSIBILITY, LEGAL, PERSONAL_DATA = "/accessibilite", "/mentions-legales", "/donnees-personnelles"
NEUTRAL_ACCESSIBILITY = "/me/accessibilite"


def footer_links(request: Request, lang: str, discreet: bool = False) -> list[tuple[str, str]]:
    """The footer's links, in ``lang``: (label, address). For a person with discreet
    messages only the accessibility statement, in its neutral wording and under /me/ (the
    one path the discreet host serves): the legal notices are the service's own pages."""
    settings: Settings = request.app.state.engine.settings
    t = TEXT[lang if lang in TEXT else "fr"]
    if discreet:
        return [(t["footer.accessibility"], f"{NEUTRAL_ACCESSIBILITY}?lang={lang}")]
    return [
        (t["footer.accessibility"], f"{ACCESSIBILITY}?lang={lang}"),
        (t["footer.legal"], settings.legal_notice_url or f"{LEGAL}?lang={lang}"),
        (t["footer.personal_data"], settings.personal_data_url or f"{PERSONAL_DATA}?lang={lang}"),
    ]


def statement(request: Request, name: str, lang: str, **extra: Any) -> HTMLResponse:
    context = {"t": TEXT[lang], "lang": lang, "token": "", "active": "", "path": request.url.path}
    return templates.TemplateResponse(
        request, f"legal/{name}.html", context | extra, headers=NO_STORE
    )


@router.get(ACCESSIBILITY, response_class=HTMLResponse)
def accessibility(request: Request, parts: Parts, lang: str | None = None) -> Response:
    contact = parts.settings.accessibility_contact
    return statement(request, "accessibility", language(lang, None), contact=contact)


@neutral.get(NEUTRAL_ACCESSIBILITY, response_class=HTMLResponse)
def neutral_accessibility(request: Request, parts: Parts, lang: str | None = None) -> Response:
    """The same statement in the neutral frame, naming no service: the one a discreet
    person's pages link to (nor the operator's contact address, which may name it)."""
    return statement(request, "accessibility", language(lang, None), contact="", neutral=True)


@router.get(LEGAL, response_class=HTMLResponse)
def legal_notice(request: Request, parts: Parts, lang: str | None = None) -> Response:
    if parts.settings.legal_notice_url:
        return RedirectResponse(parts.settings.legal_notice_url, status_code=303)
    return statement(request, "unpublished", language(lang, None), key="legal")


@router.get(PERSONAL_DATA, response_class=HTMLResponse)
def personal_data(request: Request, parts: Parts, lang: str | None = None) -> Response:
    if parts.settings.personal_data_url:
        return RedirectResponse(parts.settings.personal_data_url, status_code=303)
    days = parts.settings.retention_days
    return statement(request, "unpublished", language(lang, None), key="privacy", days=days)
