"""Registered recipients: contacts, choices and push subscriptions; erasure.

Registration needs the ``recipients`` scope, erasure the ``erase`` scope. Each recipient
belongs to the tenant of the key that registered it, as messages do: another tenant's
client finds nothing under that id (404, as for an id never seen) and registers its own.
A person's safety actions (a change of their settings, a resume, a new code for their
pages) are audited with the client that made them, as the console's are
(:mod:`notifier.store.audit`); resume and code reach a person known only from events too.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field, field_validator

from notifier.api.deps import (
    EngineDep,
    EraseClient,
    RecipientId,
    RecipientsClient,
    check_push,
    unprocessable,
)
from notifier.api.http import AUTHENTICATED, WITH_BODY, responses
from notifier.models import NO_SAFETY, PushSubscription, Recipient
from notifier.safety import changes
from notifier.store import audit
from notifier.store.pages_codes import guessable

log = logging.getLogger(__name__)
router = APIRouter(tags=["recipients"])

RECIPIENT_LINKS = {
    name: {"operationId": operation, "parameters": {"recipient_id": "$response.body#/id"}}
    for name, operation in [
        ("GetRecipient", "get_recipient"),
        ("AddPushSubscription", "add_push_subscription"),
        ("EraseRecipient", "erase_recipient"),
        ("ResumeContact", "resume_contact"),
    ]
}


class Erased(BaseModel):
    erased: str
    messages_removed: int


class Resume(BaseModel):
    send_missed: bool = Field(
        default=False,
        description="Also send the messages withheld during the pause (each still within its "
        "expiry and the person's safe times); otherwise they stay withheld.",
    )


class Resumed(BaseModel):
    recipient: str
    resent: list[str] = Field(description="Ids of the withheld messages scheduled again.")


class PagesCode(BaseModel):
    code: str = Field(
        pattern=r"^[0-9]{6,8}$",
        description="The short code the person chose with the agent (6 to 8 digits): with "
        "discreet messages on, their pages open only after it. Stored as a salted hash; "
        "setting it again ends the sessions the old one opened and lifts a lock.",
    )

    @field_validator("code")
    @classmethod
    def not_guessable(cls, code: str) -> str:
        if guessable(code):
            raise ValueError("too easy to guess: one digit repeated, a run, or a date")
        return code


class CodeSet(BaseModel):
    recipient: str


class PushAdded(BaseModel):
    recipient: str
    endpoint: str


@router.put(
    "/v1/recipients/{recipient_id}",
    response_model=Recipient,
    operation_id="put_recipient",
    responses={
        200: {"description": "Registered.", "links": RECIPIENT_LINKS},
        **responses(*AUTHENTICATED, *WITH_BODY),
    },
)
def put_recipient(
    recipient_id: RecipientId, recipient: Recipient, client: RecipientsClient, parts: EngineDep
) -> Recipient:
    if recipient.id != recipient_id:
        raise unprocessable(["body", "id"], f"must be {recipient_id!r}, the id in the URL")
    check_push(parts, recipient.contacts.push, ["body", "contacts", "push"])
    before = parts.recipients.known(client.tenant, recipient_id)
    parts.recipients.put(client.tenant, recipient, parts.clock())
    stored = parts.recipients.get(client.tenant, recipient_id)
    assert stored is not None
    was = before.safe if before else NO_SAFETY
    if stored.safe != was:
        action = f"safety settings: {changes(was, stored.safe)}"
        audit.record(
            parts.store.redis, client.name, action, recipient_id, tenant=client.tenant, via="api"
        )
    return stored


@router.get(
    "/v1/recipients/{recipient_id}",
    response_model=Recipient,
    operation_id="get_recipient",
    responses=responses(*AUTHENTICATED, 404),
)
def get_recipient(
    recipient_id: RecipientId, client: RecipientsClient, parts: EngineDep
) -> Recipient:
    stored = parts.recipients.get(client.tenant, recipient_id)
    if stored is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no recipient {recipient_id!r}")
    return stored


@router.delete(
    "/v1/recipients/{recipient_id}",
    response_model=Erased,
    operation_id="erase_recipient",
    responses=responses(*AUTHENTICATED, 404),
)
def erase_recipient(recipient_id: RecipientId, client: EraseClient, parts: EngineDep) -> Any:
    """Erase the recipient and every message about them, pending ones included; 404 if the
    client's tenant has neither registered them nor sent them anything."""
    removed = parts.recipients.erase(client.tenant, recipient_id)
    if removed is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no recipient {recipient_id!r}")
    log.info("recipient %s erased with %d messages", recipient_id, removed)
    return {"erased": recipient_id, "messages_removed": removed}


@router.post(
    "/v1/recipients/{recipient_id}/push-subscriptions",
    status_code=201,
    response_model=PushAdded,
    operation_id="add_push_subscription",
    responses=responses(*AUTHENTICATED, *WITH_BODY, 404),
)
def add_push_subscription(
    recipient_id: RecipientId,
    subscription: PushSubscription,
    client: RecipientsClient,
    parts: EngineDep,
) -> Any:
    check_push(parts, subscription, ["body"])
    added = parts.clock().timestamp()
    if not parts.recipients.add_push(client.tenant, recipient_id, subscription, added):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no recipient {recipient_id!r}")
    return {"recipient": recipient_id, "endpoint": subscription.endpoint}


@router.post(
    "/v1/recipients/{recipient_id}/resume",
    response_model=Resumed,
    operation_id="resume_contact",
    responses=responses(*AUTHENTICATED, *WITH_BODY, 404),
)
def resume_contact(
    recipient_id: RecipientId, resume: Resume, client: RecipientsClient, parts: EngineDep
) -> Any:
    """End the person's pause of all contact (at their request); with ``send_missed``, the
    messages withheld meanwhile are scheduled again, due now."""
    resumed = parts.recipients.resume(
        client.tenant, recipient_id, parts.store, parts.clock(), send_missed=resume.send_missed
    )
    if resumed is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no recipient {recipient_id!r}")
    lifted, resent = resumed
    done = ["pause off"] * lifted + [f"{len(resent)} withheld sent again"] * resume.send_missed
    if lifted or resent:
        action = f"safety settings: {', '.join(done)}"
        audit.record(
            parts.store.redis, client.name, action, recipient_id, tenant=client.tenant, via="api"
        )
    return {"recipient": recipient_id, "resent": resent}


@router.post(
    "/v1/recipients/{recipient_id}/code",
    response_model=CodeSet,
    operation_id="set_pages_code",
    responses=responses(*AUTHENTICATED, *WITH_BODY, 404),
)
def set_pages_code(
    recipient_id: RecipientId, body: PagesCode, client: RecipientsClient, parts: EngineDep
) -> Any:
    """Set (or reset, at the person's request) the code that opens their pages."""
    if parts.recipients.known(client.tenant, recipient_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no recipient {recipient_id!r}")
    parts.recipients.set_code(client.tenant, recipient_id, body.code)
    audit.record(
        parts.store.redis,
        client.name,
        "new pages code",
        recipient_id,
        tenant=client.tenant,
        via="api",
    )
    return {"recipient": recipient_id}
