"""What became of a message, and the rules in force: reads scoped to the client's tenant."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, status
from pydantic import Field

from notifier.api.deps import EngineDep, EventsClient, MessageId
from notifier.api.events import Answer
from notifier.api.http import AUTHENTICATED, responses
from notifier.models import HistoryEntry, MessageStatus

router = APIRouter(tags=["messages"])


class MessageOut(Answer):
    id: str
    status: MessageStatus
    rule: str
    subject: str
    event_id: str
    due_at: datetime = Field(description="In UTC, as every time the API answers.")
    attempts: int = Field(description="Provider calls made for it, on every channel tried.")
    rules_version: str
    history: list[HistoryEntry]


@router.get(
    "/v1/messages/{message_id}",
    response_model=MessageOut,
    operation_id="get_message",
    responses=responses(*AUTHENTICATED, 404),
)
def get_message(message_id: MessageId, client: EventsClient, parts: EngineDep) -> dict[str, Any]:
    """A message the client's tenant planned; any other id is not found, whether it exists
    or not (a 403 would confirm it does)."""
    record = parts.store.get(message_id)
    if record is None or record.message.tenant != client.tenant:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no message {message_id!r}")
    return {
        "id": record.id,
        "status": record.status,
        "rule": record.message.rule,
        "subject": record.message.subject,
        "event_id": record.message.event_id,
        "due_at": record.due_at.astimezone(UTC),
        "attempts": record.calls,
        "rules_version": record.message.rules_version,
        "history": record.history,
    }


@router.get("/v1/rules", operation_id="get_rules", responses=responses(*AUTHENTICATED))
def get_rules(client: EventsClient, parts: EngineDep) -> dict[str, Any]:
    """The rules and templates in force, their versions, and why the last reload of either
    was refused, if it was."""
    rules, templates = parts.rules, parts.templates
    return {
        "version": rules.current.version,
        "files": list(rules.current.files),
        "rules": [rule.model_dump(mode="json", by_alias=True) for rule in rules.current.rules],
        "reload_error": str(rules.last_error) if rules.last_error else None,
        "templates_version": templates.current.version,
        "templates_reload_error": str(templates.last_error) if templates.last_error else None,
    }
