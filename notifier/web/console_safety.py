"""The console's safety actions, at the person's request: set their safety settings (pause,
resume and send what they missed, discreet messages, safe channels and hours) and set a new
code for their pages. Reached from one of their messages (``/ops/messages/{id}/person``),
so they work as well for a person known only from events as for a registered one. Like
cancel and resend: a reason required, CSRF-checked, audited, nothing audited when nothing
changes. The settings are saved as the person's own choices (they win over what an
upstream system registered); a new code lifts a lock and ends the sessions the old one
opened.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from notifier.api.deps import Engine, EngineDep
from notifier.channels.registry import address_of
from notifier.models import Recipient
from notifier.safety import changes
from notifier.store import MessageRecord, audit
from notifier.store.pages_codes import guessable
from notifier.store.recipients import RecipientStore
from notifier.store.safety_decisions import Stale, version
from notifier.web.console import Agent, check, screen, visible
from notifier.web.safety_page import NEW_CODE, safety_from_form
from notifier.web.sessions import OpsAgent
from notifier.web.text import CHANNELS

log = logging.getLogger(__name__)
router = APIRouter(prefix="/ops/messages/{message_id}/person", include_in_schema=False)
DONE = re.compile(r"^[a-z]{0,12}$")


def person_of(parts: Engine, who: OpsAgent, message_id: str) -> tuple[MessageRecord, Recipient]:
    """The message and its person as they stand now (registered, or as their messages
    carried them, with their own choices); a 404 page for a message that does not exist or
    that the agent may not see."""
    record = visible(parts, who, message_id)
    recipient = record.message.recipient
    fields = parts.recipients.fields(record.message.tenant, recipient.id)
    return record, RecipientStore.current(fields, recipient)


def offered(who: Recipient) -> list[Any]:
    return [c for c in CHANNELS if address_of(who.contacts, c) is not None]


@router.get("", response_class=HTMLResponse)
def person(
    request: Request, message_id: str, who: Agent, parts: EngineDep, done: str = ""
) -> Response:
    record, person = person_of(parts, who, message_id)
    tenant = record.message.tenant
    return screen(
        request,
        "person",
        parts,
        who,
        record=record,
        person=person,
        settings=person.safe,
        offered=offered(person),
        safe_channels=person.safe.channels or frozenset(offered(person)),
        seen=version(person.safe),
        registered="profile" in parts.recipients.fields(tenant, person.id),
        has_code=parts.recipients.has_code(tenant, person.id),
        done=done if DONE.match(done) else "",
    )


def back(message_id: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"/ops/messages/{message_id}/person?done={done}", status_code=303)


@router.post("/safety")
def set_safety(
    request: Request,
    message_id: str,
    who: Agent,
    parts: EngineDep,
    token: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
    discreet: Annotated[str | None, Form()] = None,
    paused: Annotated[str | None, Form()] = None,
    send_missed: Annotated[str | None, Form()] = None,
    channel: Annotated[list[str] | None, Form()] = None,
    start: Annotated[str, Form(max_length=5)] = "",
    end: Annotated[str, Form(max_length=5)] = "",
    seen: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """The person's settings as the agent set them with the person; nothing if those in
    force changed since the screen was shown (an event tightened them): to review."""
    check(parts, request, token)
    record, person = person_of(parts, who, message_id)
    if not reason.strip():
        return back(message_id, "reason")
    chosen = safety_from_form(
        bool(discreet),
        bool(paused),
        channel or [],
        start.strip(),
        end.strip(),
        offered(person),
        person.safe.channels,
        person.safe.safe_hours.days if person.safe.safe_hours else None,
    )
    if chosen is None:
        return back(message_id, "hours")
    # safe contacts have no field on the form: those set stay, and are no change
    chosen = chosen.model_copy(update={"contacts": chosen.contacts or person.safe.contacts})
    resuming = person.safe.paused and not chosen.paused and bool(send_missed)
    if seen != version(person.safe):
        return back(message_id, "stale")
    if chosen == person.safe and not resuming:
        return back(message_id, "nothing")
    tenant = record.message.tenant
    try:
        parts.recipients.set_safety(
            tenant, person.id, chosen, by="agent", at=parts.clock(), seen=seen
        )
    except Stale:
        return back(message_id, "stale")
    resent = (
        parts.recipients.resend_withheld(tenant, person.id, parts.store, parts.clock())
        if resuming
        else []
    )
    action = f"safety settings: {changes(person.safe, chosen)}" + (
        f", {len(resent)} withheld sent again" if resuming else ""
    )
    audit.record(parts.store.redis, who.name, action, message_id, reason.strip(), tenant=tenant)
    return back(message_id, "safety")


@router.post("/code")
def set_code(
    request: Request,
    message_id: str,
    who: Agent,
    parts: EngineDep,
    token: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
    code: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """A new code for the person's pages, chosen with them: it lifts a lock, and whoever
    opened the pages with the old one is out."""
    check(parts, request, token)
    record, person = person_of(parts, who, message_id)
    if not reason.strip():
        return back(message_id, "reason")
    if not NEW_CODE.match(code):
        return back(message_id, "format")
    if guessable(code):
        return back(message_id, "guessable")
    tenant = record.message.tenant
    parts.recipients.set_code(tenant, person.id, code)
    audit.record(
        parts.store.redis, who.name, "new pages code", message_id, reason.strip(), tenant=tenant
    )
    return back(message_id, "code")
