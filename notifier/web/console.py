"""The support console, ``/ops/``: find a citizen's messages, see every attempt, act.

For staff holding a key with the ``ops`` scope (``notifier keys add agent --scopes ops``):
a key made with ``--tenant`` sees and acts on that tenant's messages and audit entries only,
anything else answering as an unknown id; one made without, every tenant's. A session
cookie (8 hours, HttpOnly, SameSite=Strict) names a session kept in Redis, which ends at
logout or as soon as the key is revoked (:mod:`notifier.web.sessions`). Every
action needs a reason, is CSRF-checked, and is audited — in the log (no personal data:
message ids and the agent's name) and in ``notifier:audit`` (the last 1 000, shown on the
overview).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections import Counter
from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from notifier.api.deps import Engine, EngineDep
from notifier.channels.registry import address_of, plugins
from notifier.models import MESSAGE_ID_PATTERN, Event, MessageStatus
from notifier.phones import normalize_phone
from notifier.rules.engine import message_id
from notifier.rules.preview import preview
from notifier.safety import unsafe_channel, when_safe
from notifier.store import PREFIX, MessageRecord, audit, to_ms
from notifier.store.apikeys import Scope
from notifier.store.recipients import RecipientStore
from notifier.templates.renderer import Renderer
from notifier.web.gate import secure_cookies
from notifier.web.guard import PageError, same_token, within_rate
from notifier.web.history import sent_text
from notifier.web.pages import NO_STORE, templates
from notifier.web.sessions import SESSION, OpsAgent, Sessions
from notifier.web.text import TEXT

log = logging.getLogger(__name__)
router = APIRouter(prefix="/ops", include_in_schema=False)
COOKIE = "notifier_ops"


class Login(Exception):
    """No valid session: to the login page."""


def agent(request: Request, parts: EngineDep) -> OpsAgent:
    """The agent logged in on this browser; :class:`Login` otherwise."""
    within_rate(parts.store.redis, request.client.host if request.client else "?")
    found = Sessions(parts.keys).agent(request.cookies.get(COOKIE, ""))
    if found is None:
        raise Login()
    return found


Agent = Annotated[OpsAgent, Depends(agent)]


def visible(parts: Engine, who: OpsAgent, message_id: str) -> MessageRecord:
    """The message, if it exists and is of a tenant the agent sees; the unknown id's 404
    page otherwise (another tenant's message is not there for them)."""
    record = parts.store.get(message_id)
    if record is None or not who.sees(record.message.tenant):
        raise PageError(404, "error.unknown")
    return record


def csrf(parts: Engine, request: Request) -> str:
    cookie = request.cookies.get(COOKIE, "")
    return hmac.new(parts.settings.secret(), f"ops|{cookie}".encode(), hashlib.sha256).hexdigest()[
        :32
    ]


def check(parts: Engine, request: Request, presented: str) -> None:
    if not same_token(csrf(parts, request), presented):
        raise PageError(403, "error.form")


def stamp(value: datetime, zone: str, seconds: bool = False) -> str:
    """``value`` in ``zone`` (the recipient's), labelled with that zone's abbreviation:
    ``2026-12-08 10:30 CET``. Times are stored in UTC; the agent reads the person's clock."""
    shown = value.astimezone(ZoneInfo(zone))
    return shown.strftime(f"%Y-%m-%d %H:%M{':%S' if seconds else ''} %Z")


def status_label(status: MessageStatus) -> str:
    """The status in the pages' French words, with its API name for cross-checking:
    ``prévu (scheduled)``."""
    return f"{TEXT['fr'][f'status.{status.value}']} ({status.value})"


def screen(request: Request, name: str, parts: Engine, who: OpsAgent, **extra: Any) -> HTMLResponse:
    context = {
        "agent": who.name,
        "csrf": csrf(parts, request),
        "active": name,
        "lang": "fr",
        **extra,
    }
    return templates.TemplateResponse(request, f"ops/{name}.html", context, headers=NO_STORE)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, failed: int = 0) -> Response:
    context = {"agent": None, "failed": bool(failed), "active": "login", "csrf": "", "lang": "fr"}
    return templates.TemplateResponse(request, "ops/login.html", context, headers=NO_STORE)


@router.post("/login")
def login(request: Request, parts: EngineDep, key: Annotated[str, Form()] = "") -> Response:
    within_rate(parts.store.redis, request.client.host if request.client else "?")
    client = parts.keys.identify(key) if key else None
    if client is None or not client.may(Scope.OPS):
        log.warning("ops console: refused a login")
        return RedirectResponse("/ops/login?failed=1", status_code=303)
    response = RedirectResponse("/ops/", status_code=303)
    response.set_cookie(
        COOKIE,
        Sessions(parts.keys).open(client.name, key),
        max_age=int(SESSION.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request, parts.settings),
        path="/ops",
    )
    audit.log.info("ops %s: logged in", client.name)
    return response


@router.post("/logout")
def logout(
    request: Request, who: Agent, parts: EngineDep, token: Annotated[str, Form()] = ""
) -> Response:
    check(parts, request, token)
    Sessions(parts.keys).close(request.cookies.get(COOKIE, ""))
    audit.log.info("ops %s: logged out", who.name)
    response = RedirectResponse("/ops/login", status_code=303)
    response.delete_cookie(COOKIE, path="/ops")
    return response


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, who: Agent, parts: EngineDep) -> Response:
    now = parts.clock()
    size, overdue, oldest = parts.store.schedule_stats(now)
    soon: list[str] = parts.store.redis.zrangebyscore(  # type: ignore[assignment]
        f"{PREFIX}due", to_ms(now), to_ms(now + timedelta(hours=24)), start=0, num=5000
    )
    by_rule: Counter[str] = Counter()
    for record in filter(None, parts.store.get_many(soon)):
        by_rule[record.message.rule] += 1
    failures: Counter[str] = Counter(  # their details may be a provider's words: the tenant's
        failure_reason(r)
        for r in parts.store.failures_since(now - timedelta(hours=24))
        if who.sees(r.message.tenant)
    )
    return screen(
        request,
        "overview",
        parts,
        who,
        pending=size,
        overdue=overdue,
        oldest=(now.timestamp() - oldest / 1000) if oldest else 0,
        next_day=sorted(by_rule.items()),
        channels=list(plugins()),
        channels_off=parts.store.channels_off(),
        rules=parts.rules,
        templates_holder=parts.templates,
        audit=audit.recent(parts.store.redis, 20, tenant=who.tenant),
        failures=failures.most_common(),
    )


def contact_forms(query: str) -> list[str]:
    """``query`` as the engine stores a contact: E.164 for a number, lower case for e-mail."""
    if "@" in query:
        return [query.strip().lower()]
    try:
        return [normalize_phone(query)]
    except ValueError:
        return []


def failure_reason(record: MessageRecord) -> str:
    """A failure's kind, to group by: its status and the start of its detail (a provider's
    code, "no channel could deliver", "past its expiry"), without what varies per message."""
    detail = (record.history[-1].detail or "").split(" (", 1)[0].split(";", 1)[0]
    label = status_label(record.status)
    return f"{label} : {detail[:80]}" if detail else label


def found_by(parts: Engine, who: OpsAgent, query: str) -> list[MessageRecord]:
    """Messages of the tenants ``who`` sees by id, event id (any client, any rule), recipient
    id, phone number or e-mail (keyed hash), or pending subject."""
    import re

    query = query.strip()
    ids: list[str] = []
    if re.match(MESSAGE_ID_PATTERN, query):
        ids.append(query)
    stored = parts.keys.clients()
    clients = {c.name for c in stored} | {name for name in parts.settings.api_keys}
    for client in clients:
        for rule in parts.rules.current.rules:
            base = message_id(client, query, rule.id)
            ids += [base, f"{base}-1"]
    for tenant in {c.tenant for c in stored} | set(parts.settings.api_keys):  # every tenant's
        ids += parts.recipients.message_ids(tenant, query)
    for contact in contact_forms(query):  # a phone number or an e-mail, by keyed hash
        for tenant, recipient in parts.recipients.by_contact(contact):
            if who.sees(tenant):
                ids += parts.recipients.message_ids(tenant, recipient)
    if ":" in query:
        for _, pending in parts.store.redis.hscan_iter(f"{PREFIX}subjects", match=f"*|{query}"):
            ids += [i for i in str(pending).split(",") if i]
    unique = list(dict.fromkeys(ids))
    found = [  # one round trip
        r for r in parts.store.get_many(unique) if r is not None and who.sees(r.message.tenant)
    ]
    return sorted(found, key=lambda r: r.due_at, reverse=True)


@router.get("/find", response_class=HTMLResponse)
def find(request: Request, who: Agent, parts: EngineDep, q: str = "") -> Response:
    records = found_by(parts, who, q) if q.strip() else []
    audit.log.info("ops %s: searched (%d found)", who.name, len(records))
    protected = protected_ids(parts, records)
    return screen(request, "find", parts, who, query=q, records=records, protected=protected)


def protected_ids(parts: Engine, records: list[MessageRecord]) -> set[str]:
    """The messages among ``records`` whose person has safety settings on, as they stand, or
    that went in the discreet wording (their contact is watched): every screen that shows a
    person marks them (one read per person)."""
    people = {(r.message.tenant, r.message.recipient.id): r.message.recipient for r in records}
    safe = {
        person
        for person, inline in people.items()
        if RecipientStore.current(parts.recipients.fields(*person), inline).safe.active
    }
    return {
        r.id for r in records if r.discreet or (r.message.tenant, r.message.recipient.id) in safe
    }


@router.get("/messages/{message_id}", response_class=HTMLResponse)
def message(
    request: Request, message_id: str, who: Agent, parts: EngineDep, done: str = ""
) -> Response:
    record = visible(parts, who, message_id)
    return screen(
        request, "message", parts, who, record=record, done=done, **safe_contact(parts, record)
    )


def safe_contact(parts: Engine, record: MessageRecord) -> dict[str, Any]:
    """The person's safety settings as they stand (None without any), whether a resend may
    be offered now (not while they pause contact, outside their safe hours, nor when none
    of the message's channels is one they said is safe), and the words they were sent: in
    the wording that was used (discreet or not, as the send recorded it), whatever the
    person chose since."""
    person = RecipientStore.current(
        parts.recipients.fields(record.message.tenant, record.message.recipient.id),
        record.message.recipient,
    )
    sent = next((h for h in reversed(record.history) if h.status is MessageStatus.SENT), None)
    channel = sent.channel if sent is not None else None
    renderer = Renderer(parts.templates)
    words = sent_text(renderer, record.message, person, channel, record.discreet)
    found = {"sent_words": words, "sent_discreet": record.discreet}
    if not person.safe.active:
        return {"safety": None, "resend_now": True, **found}
    now = parts.clock()
    later = when_safe(now, record.message.model_copy(update={"recipient": person}))
    safe_channel = any(
        unsafe_channel(c, address_of(person.contacts, c), person.safe) is None
        for c in record.message.channels
    )
    return {
        "safety": person.safe,
        "resend_now": not person.safe.paused and later <= now and safe_channel,
        **found,
    }


@router.post("/messages/{message_id}/{action}")
def act(
    request: Request,
    message_id: str,
    action: str,
    who: Agent,
    parts: EngineDep,
    token: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    check(parts, request, token)
    record = visible(parts, who, message_id)
    if action not in ("cancel", "resend") or not reason.strip():
        return RedirectResponse(f"/ops/messages/{message_id}?done=reason", status_code=303)
    if action == "resend" and not safe_contact(parts, record)["resend_now"]:
        return RedirectResponse(f"/ops/messages/{message_id}?done=unsafe", status_code=303)
    # The history is read by the upstream client (GET /v1/messages/{id}): who acted and why
    # (which may name people) stay in the audit list.
    detail = f"{'cancelled' if action == 'cancel' else 'sent again'} by support"
    found = parts.store.support(message_id, action, parts.clock(), detail)
    if found is None:
        raise PageError(404, "error.unknown")
    _, acted = found
    if not acted:  # not pending (cancel) or not failed (resend): nothing happened to audit
        return RedirectResponse(f"/ops/messages/{message_id}?done=nothing", status_code=303)
    audit.record(
        parts.store.redis,
        who.name,
        action,
        message_id,
        reason.strip(),
        tenant=record.message.tenant,
    )
    return RedirectResponse(f"/ops/messages/{message_id}?done={action}", status_code=303)


@router.get("/preview", response_class=HTMLResponse)
def preview_page(request: Request, who: Agent, parts: EngineDep) -> Response:
    return screen(request, "preview", parts, who, event="", result=None, error=None)


@router.post("/preview", response_class=HTMLResponse)
def preview_event(
    request: Request,
    who: Agent,
    parts: EngineDep,
    event: Annotated[str, Form()] = "",
    token: Annotated[str, Form()] = "",
) -> Response:
    check(parts, request, token)
    try:
        parsed = Event.model_validate_json(event)
        result, error = (
            preview(parsed, parts.rules.current, Renderer(parts.templates), parts.clock()),
            None,
        )
    except ValidationError as exc:
        result, error = (
            None,
            "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()),
        )
    except ValueError as exc:
        result, error = None, str(exc)
    return screen(request, "preview", parts, who, event=event, result=result, error=error)
