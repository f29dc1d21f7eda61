"""The citizen's pages: choices, needs, this device, what we sent (unsubscribing is in
:mod:`notifier.web.unsubscribe`).

Public (no API key): the signed link in each message is the only credential, and it grants
one person and one purpose (:mod:`notifier.links`). Server-rendered, in the French State's
design system, usable without JavaScript except to turn push on (the browser's API needs
it). A choice made here applies from the next send, for registered recipients and for
those sent inline in events alike (:meth:`RecipientStore.current`).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from notifier.api.deps import Engine, EngineDep, check_push
from notifier.channels.registry import address_of, plugins
from notifier.channels.webpush import application_server_key
from notifier.delivery.decisions import shows_its_site
from notifier.links import PAGES, Grant, LinkError, host_of, same_form
from notifier.models import (
    Channel,
    PlannedMessage,
    PushSubscription,
    Recipient,
)
from notifier.rules.engine import message_id
from notifier.rules.plans import Plan
from notifier.store import MessageRecord
from notifier.store.recipients import RecipientStore
from notifier.web import choices
from notifier.web.gate import require_open
from notifier.web.guard import PageError, check_csrf, csrf_token, within_rate
from notifier.web.text import CHANNELS, NEEDS, TEXT, language

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def guarded(request: Request, parts: EngineDep) -> Engine:
    """Every page: counted against the client's rate."""
    within_rate(parts.store.redis, request.client.host if request.client else "?")
    return parts


Parts = Annotated[Engine, Depends(guarded)]


def granted(parts: Engine, token: str, purpose: str, lang: str) -> Grant:
    try:
        return parts.links.read(token, purpose)
    except LinkError as exc:
        raise PageError(
            410 if exc.expired else 404, f"error.{'expired' if exc.expired else 'invalid'}", lang
        ) from None


def person(
    request: Request, parts: Engine, grant: Grant, lang: str, *, gate: bool = True
) -> Recipient:
    """The person as the engine knows them now: registered, or from their latest message;
    the link's tenant's only (another tenant's recipient under the same id is not them).
    With discreet messages, their pages stay behind the code gate (:mod:`notifier.web.gate`)."""
    fields = parts.recipients.fields(grant.tenant, grant.recipient)
    who = RecipientStore.current(fields)
    if who is None:
        records = messages_of(parts, grant)
        if not records:
            raise PageError(404, "error.unknown", lang)
        latest = max(records, key=lambda r: r.message.due_at).message.recipient
        who = RecipientStore.current(fields, latest)
    if gate:
        require_open(request, parts, grant, who, lang)
    return who


def messages_of(parts: Engine, grant: Grant) -> list[MessageRecord]:
    """The records of the messages the link's tenant sent the person."""
    found = parts.store.get_many(parts.recipients.message_ids(grant.tenant, grant.recipient))
    return [r for r in found if r is not None and r.message.tenant == grant.tenant]


def categories(parts: Engine, lang: str) -> dict[str, str]:
    """The optional categories of the rules in force, named in ``lang`` (else their slug)."""
    rules = parts.rules.current
    labels = rules.defaults.categories
    found = sorted({r.category for r in rules.rules if r.category})
    return {c: labels.get(c, {}).get(lang) or labels.get(c, {}).get("fr") or c for c in found}


def page(
    request: Request, name: str, lang: str, token: str, active: str, **extra: Any
) -> HTMLResponse:
    context = {
        "t": TEXT[lang],
        "lang": lang,
        "token": token,
        "active": active,
        "csrf": csrf_token(request.app.state.engine.settings.secret(), token),
        "path": request.url.path,
        "discreet": getattr(request.state, "discreet", False),
        **extra,
    }
    return templates.TemplateResponse(request, name, context, headers=NO_STORE)


NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@router.get("/me/{token}", response_class=HTMLResponse)
def preferences(request: Request, token: str, parts: Parts, lang: str | None = None) -> Response:
    grant = granted(parts, token, PAGES, language(lang, None))
    who = person(request, parts, grant, language(lang, None))
    lang = language(lang, who.locale)
    rows = choices.preference_rows(who, categories(parts, lang), CHANNELS)
    if who.safe.discreet:
        rows = choices.disguised(rows, TEXT[lang]["preferences.neutral"])
    contacts = {c: p.shown(who.contacts) for c, p in plugins().items() if p.shown}
    saved = request.query_params.get("saved") == "1"
    return page(
        request,
        "preferences.html",
        lang,
        token,
        "preferences",
        rows=rows,
        contacts=contacts,
        saved=saved,
        field=choices.field_name,
    )


@router.post("/me/{token}/preferences")
def save_preferences(
    request: Request,
    token: str,
    parts: Parts,
    csrf: Annotated[str, Form()] = "",
    lang: Annotated[str, Form()] = "fr",
    choice: Annotated[list[str] | None, Form()] = None,
) -> Response:
    grant = granted(parts, token, PAGES, language(lang, None))
    check_csrf(parts.settings.secret(), token, csrf, lang)
    who = person(request, parts, grant, language(lang, None))
    offered = [c for c in CHANNELS if address_of(who.contacts, c) is not None]
    shown = categories(parts, lang)
    chosen = choices.undisguised(choice or [], shown) if who.safe.discreet else choice or []
    updated = choices.apply_preferences(who, chosen, shown, offered)
    parts.recipients.set_choices(grant.tenant, who.id, updated.needs, updated.opt_outs)
    log.info("citizen pages: preferences saved (%d opt-outs)", len(updated.opt_outs))
    return RedirectResponse(f"/me/{token}?saved=1&lang={language(lang, None)}", status_code=303)


@router.get("/me/{token}/needs", response_class=HTMLResponse)
def needs(request: Request, token: str, parts: Parts, lang: str | None = None) -> Response:
    grant = granted(parts, token, PAGES, language(lang, None))
    who = person(request, parts, grant, language(lang, None))
    lang = language(lang, who.locale)
    saved = request.query_params.get("saved") == "1"
    return page(
        request,
        "needs.html",
        lang,
        token,
        "needs",
        needs=NEEDS,
        chosen={n.value for n in who.needs},
        saved=saved,
    )


@router.post("/me/{token}/needs")
def save_needs(
    request: Request,
    token: str,
    parts: Parts,
    csrf: Annotated[str, Form()] = "",
    lang: Annotated[str, Form()] = "fr",
    need: Annotated[list[str] | None, Form()] = None,
) -> Response:
    grant = granted(parts, token, PAGES, language(lang, None))
    check_csrf(parts.settings.secret(), token, csrf, lang)
    who = choices.apply_needs(person(request, parts, grant, language(lang, None)), need or [])
    parts.recipients.set_choices(grant.tenant, who.id, who.needs, who.opt_outs)
    log.info("citizen pages: needs saved (%d)", len(who.needs))
    return RedirectResponse(
        f"/me/{token}/needs?saved=1&lang={language(lang, None)}", status_code=303
    )


@router.get("/me/{token}/device", response_class=HTMLResponse)
def device(request: Request, token: str, parts: Parts, lang: str | None = None) -> Response:
    grant = granted(parts, token, PAGES, language(lang, None))
    who = person(request, parts, grant, language(lang, None))
    lang = language(lang, who.locale)
    neutral_host = host_of(parts.settings.discreet_public_url)
    return page(
        request,
        "device.html",
        lang,
        token,
        "device",
        public_key=application_server_key(parts.settings),
        no_smartphone="no_smartphone" in {n.value for n in who.needs},
        # a discreet person's push would show this host, so it would never be sent
        shows_site=who.safe.discreet
        and shows_its_site(Channel.WEBPUSH, host_in(request), neutral_host) is not None,
    )


def host_in(request: Request) -> str | None:
    """The host the browser is on (what its notifications would show)."""
    return same_form(request.headers.get("host", "")[:255])


def subscription_in(body: bytes) -> PushSubscription:
    """The body's push subscription; else a 400 (not JSON) or a 422 naming the field."""
    try:
        return PushSubscription.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None


@router.post("/me/{token}/push", status_code=201)
async def subscribe(request: Request, token: str, parts: Parts) -> dict[str, str]:
    """The browser's ``PushSubscription.toJSON()``: stored, then a test notification is
    planned, through the same path as every message (scheduler, worker, pywebpush)."""
    lang = language(request.query_params.get("lang"), None)
    grant = granted(parts, token, PAGES, lang)
    check_csrf(parts.settings.secret(), token, request.headers.get("X-CSRF-Token"), lang)
    subscription = subscription_in(await request.body())
    check_push(parts, subscription, ["body"])
    now = parts.clock()
    who = person(request, parts, grant, lang)
    parts.recipients.add_push(
        grant.tenant,
        who.id,
        subscription,
        now.timestamp(),
        registered_only=False,
        origin=host_in(request),
    )
    plan_test_push(parts, grant.tenant, who, subscription)
    log.info("citizen pages: a browser subscribed to push")
    return {"status": "subscribed"}


def plan_test_push(
    parts: Engine, tenant: str, who: Recipient, subscription: PushSubscription
) -> None:
    """A test notification to the browser just subscribed, as ``tenant``'s message: the
    worker reads the person (and the subscription) in that tenant's records."""
    now = parts.clock()
    digest = hashlib.sha256(subscription.endpoint.encode()).hexdigest()[:16]
    event_id = f"push-test-{digest}-{int(now.timestamp())}"
    message = PlannedMessage(
        id=message_id("citizen", event_id, "push-test"),
        rule="push-test",
        rules_version=parts.rules.current.version,
        event_id=event_id,
        event_type="device.subscribed",
        tenant=tenant,
        subject=f"device:{digest}",
        due_at=now,
        template="push_test",
        channels=(Channel.WEBPUSH,),
        recipient=who,
        data={},
        expires_at=now + timedelta(hours=1),
    )
    parts.store.accept(f"citizen:{event_id}", Plan(messages=(message,)), now, ttl=3600)


@router.post("/me/{token}/push/remove")
async def unsubscribe_device(request: Request, token: str, parts: Parts) -> dict[str, str]:
    lang = language(request.query_params.get("lang"), None)
    grant = granted(parts, token, PAGES, lang)
    check_csrf(parts.settings.secret(), token, request.headers.get("X-CSRF-Token"), lang)
    endpoint = subscription_in(await request.body()).endpoint
    who = person(request, parts, grant, lang)
    parts.recipients.remove_push(grant.tenant, who.id, endpoint)
    log.info("citizen pages: a browser unsubscribed from push")
    return {"status": "unsubscribed"}


def error_page(request: Request, exc: PageError) -> HTMLResponse:
    t = TEXT[exc.lang if exc.lang in TEXT else "fr"]
    context = {
        "t": t,
        "lang": exc.lang,
        "message": t[exc.key],
        "token": "",
        "active": "",
        "path": request.url.path,
    }
    # a citizen link's error page may be read by whoever holds a discreet person's phone
    citizen = request.url.path.startswith(("/me/", "/u/"))
    page = "error_neutral.html" if citizen else "error.html"
    return templates.TemplateResponse(
        request, page, context, status_code=exc.status, headers=NO_STORE
    )
