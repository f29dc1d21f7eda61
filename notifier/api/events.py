"""``POST /v1/events`` and ``/v1/events/batch``: validate, plan, store atomically, answer.

An event answered 202 is never lost: its plan is in Redis before the answer, and the same
event id from the same client plans once. Whatever a planned message needs is checked here
(its fields, its recipient), so that a bad event is a 4xx now, not a failure at send time.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from fastapi import APIRouter, HTTPException, Response, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from notifier.api.deps import Engine, EngineDep, EventsClient, check_push, unprocessable
from notifier.api.http import AUTHENTICATED, WITH_BODY, responses
from notifier.api.lean import LeanRoute
from notifier.metrics import event_type_label
from notifier.models import Event
from notifier.rules.engine import EventDataError, missing_fields, plan, read_field
from notifier.rules.loader import RuleSet
from notifier.rules.plans import Plan
from notifier.store import Accepted
from notifier.store.apikeys import ApiClient
from notifier.urls import link_problem

log = logging.getLogger(__name__)
router = APIRouter(tags=["events"], route_class=LeanRoute)

MAX_BATCH = 1000  # events per POST /v1/events/batch


def _read_only(schema: dict[str, Any]) -> None:
    for prop in schema.get("properties", {}).values():
        prop["readOnly"] = True


class Answer(BaseModel):
    """Set by notifier: every field is ``readOnly`` in the schema."""

    model_config = ConfigDict(json_schema_extra=_read_only)


class PlannedOut(Answer):
    id: str
    rule: str
    due_at: datetime
    channels: list[str]


class SkippedOut(Answer):
    rule: str
    reason: str


class EventAccepted(Answer):
    event_id: str
    duplicate: bool
    rules_version: str
    planned: list[PlannedOut]
    skipped: list[SkippedOut]
    cancelled: list[str]


class EventBatch(BaseModel):
    """Events validated one by one, so that one bad event is answered alone."""

    model_config = ConfigDict(extra="forbid")

    events: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


class BatchItem(Answer):
    """The single endpoint's answer for one event (202), or its error (403, 422)."""

    index: int
    status: int
    event_id: str | None = None
    duplicate: bool | None = None
    rules_version: str | None = None
    planned: list[PlannedOut] | None = None
    skipped: list[SkippedOut] | None = None
    cancelled: list[str] | None = None
    detail: Any = None


class BatchAnswer(Answer):
    accepted: int
    refused: int
    results: list[BatchItem]


# Every field of a batch's item, none set: each item answers them all, as its model says.
NO_ITEM = dict.fromkeys(BatchItem.model_fields)


def answered(content: dict[str, Any], status_code: int) -> Response:
    """``content`` as JSON, already in the shape of the route's ``response_model``.

    Built here from what the store answered: FastAPI would validate it again against the
    model and serialise it through it, a twentieth of an event's time at ingest.
    tests/test_api.py holds the answers to their models.
    """
    text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return Response(text, status_code=status_code, media_type="application/json")


def permitted(parts: Engine, event: Event, client: ApiClient) -> None:
    """A 403 unless ``client`` may post this event type; a 422 for a push endpoint the
    worker must not post to."""
    if not client.may_post(event.type):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"client {client.name!r} may not post {event.type!r} events"
        )
    check_push(parts, event.recipient.contacts.push, ["body", "recipient", "contacts", "push"])


def is_reference(event: Event) -> bool:
    """Whether ``event`` names its recipient by ``id`` alone: a registered one."""
    return event.recipient.model_fields_set == {"id"}


def registered(parts: Engine, event: Event, client: ApiClient) -> Event:
    """``event`` with its recipient as registered (:func:`is_reference`); a 422 if there is
    none. Reads Redis."""
    stored = parts.recipients.get(client.tenant, event.recipient.id)
    if stored is None:
        raise unprocessable(
            ["body", "recipient", "id"],
            "unknown recipient: send its contacts, or register it first with "
            "PUT /v1/recipients/{id}",
        )
    return event.model_copy(update={"recipient": stored})


def planned_for(
    parts: Engine, event: Event, client: ApiClient, rules: RuleSet, now: datetime
) -> Plan:
    """What the rules plan for ``event``, once :func:`permitted` and :func:`registered`;
    an HTTPException (422) if it is refused."""
    try:
        decided = plan(event, rules, now, client=client.name, tenant=client.tenant)
    except EventDataError as exc:
        raise unprocessable(["body", *exc.field.split(".")], str(exc)) from None
    missing = missing_fields(event, decided, rules, parts.templates.current.fields)
    if missing:
        detail = [
            {
                "loc": ["body", *path.split(".")],
                "msg": f"Field required by rule {rule!r}: its messages cannot be written "
                "without it",
                "type": "missing",
            }
            for path, rule in missing
        ]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)
    unsafe = unsafe_links(event, decided, parts.templates.current.links)
    if unsafe:
        detail = [
            {"loc": ["body", *path.split(".")], "msg": f"{problem}: {why}", "type": "value_error"}
            for path, problem, why in unsafe
        ]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)
    return decided


def unsafe_links(
    event: Event, decided: Plan, template_links: Mapping[str, frozenset[str]]
) -> list[tuple[str, str, str]]:
    """``(field, problem, why)`` for each field a planned message writes as a link (an
    e-mail's href, a push's url) that is not https: the render would refuse it."""
    found: dict[str, tuple[str, str, str]] = {}
    for message in decided.messages:
        for path in sorted(template_links.get(message.template, ())):
            try:
                problem = link_problem(read_field(event, path))
            except KeyError:
                continue
            if problem is not None and path not in found:
                why = f"template {message.template!r} writes it as a link"
                found[path] = (path, problem, why)
    return list(found.values())


def answer(parts: Engine, event: Event, accepted: Accepted, client: ApiClient) -> dict[str, Any]:
    """What the single endpoint answers for ``event`` (a batch's item has it too); the
    metrics are counted by :func:`count`."""
    log.info(
        "event %s (%s) from %s: %d planned, %d cancelled%s",
        event.id,
        event.type,
        client.name,
        len(accepted.planned),
        len(accepted.cancelled),
        " (duplicate)" if accepted.duplicate else "",
    )
    return {
        "event_id": event.id,
        "duplicate": accepted.duplicate,
        "rules_version": parts.rules.current.version,
        "planned": accepted.planned,
        "skipped": accepted.skipped,
        "cancelled": accepted.cancelled,
    }


def count(parts: Engine, client: ApiClient, answers: list[tuple[Event, Accepted]]) -> None:
    """The events, planned and cancelled messages of these answers in the metrics: each
    series once (a batch's thousand events are a few series)."""
    rules = parts.rules.current
    events: Counter[tuple[str, str]] = Counter()
    planned: Counter[str] = Counter()
    cancelled = 0
    for event, accepted in answers:
        outcome = "duplicate" if accepted.duplicate else "accepted"
        events[event_type_label(event.type, rules), outcome] += 1
        if not accepted.duplicate:
            planned.update(p["rule"] for p in accepted.planned)
            cancelled += len(accepted.cancelled)
    for (label, outcome), n in events.items():
        parts.metrics.events.labels(client.name, label, outcome).inc(n)
    for rule, n in planned.items():
        parts.metrics.planned.labels(rule).inc(n)
    if cancelled:
        parts.metrics.cancelled.inc(cancelled)


def refused(parts: Engine, client: ApiClient, event_type: str) -> None:
    label = event_type_label(event_type, parts.rules.current)
    parts.metrics.events.labels(client.name, label, "refused").inc()


PLANNED_MESSAGE = {
    "GetPlannedMessage": {
        "operationId": "get_message",
        "parameters": {"message_id": "$response.body#/planned/0/id"},
        "description": "The first message the event planned.",
    }
}


@router.post(
    "/v1/events",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=EventAccepted,
    operation_id="post_event",
    responses={
        202: {"description": "Planned and stored.", "links": PLANNED_MESSAGE},
        **responses(*AUTHENTICATED, *WITH_BODY),
    },
)
async def post_event(event: Event, client: EventsClient, parts: EngineDep) -> Response:
    """On the event loop: only a reference to a registered recipient and safety settings
    sent inline (rarer) read or write Redis on the thread pool; the plan is stored with the
    asyncio client (:mod:`notifier.store.aio`)."""
    now = parts.clock()
    rules = parts.rules.current
    try:
        permitted(parts, event, client)
        if is_reference(event):
            event = await run_in_threadpool(registered, parts, event, client)
        decided = planned_for(parts, event, client, rules, now)
    except HTTPException:
        refused(parts, client, event.type)
        raise
    # safety sent inline holds for the person's next events and pages (it may only tighten);
    # kept first, so that no message of this event is sent before it holds
    if event.recipient.safety is not None:
        await run_in_threadpool(parts.recipients.keep_safety, client.tenant, event.recipient, now)
    key, ttl = f"{client.name}:{event.id}", parts.settings.idempotency_ttl_seconds
    if parts.accepting is not None:
        accepted = await parts.accepting.accept(key, decided, now, ttl=ttl)
    else:
        accepted = await run_in_threadpool(parts.store.accept, key, decided, now, ttl=ttl)
    count(parts, client, [(event, accepted)])
    return answered(answer(parts, event, accepted, client), status.HTTP_202_ACCEPTED)


@router.post(
    "/v1/events/batch",
    response_model=BatchAnswer,
    operation_id="post_events",
    responses=responses(*AUTHENTICATED, *WITH_BODY),
)
def post_events(batch: EventBatch, client: EventsClient, parts: EngineDep) -> Response:
    """Up to 1 000 events, each answered on its own: one refused event refuses no other.

    Each item gets the status the single endpoint would have answered (202, 403, 422),
    and is idempotent in the same way. The accepted ones are stored in one round trip.
    """
    now = parts.clock()
    results: list[dict[str, Any]] = [{} for _ in batch.events]

    def admitted(item: dict[str, Any]) -> Event:
        event = Event.model_validate(item)
        permitted(parts, event, client)
        return event

    def resolved(event: Event) -> Event:
        return registered(parts, event, client) if is_reference(event) else event

    with PLANNING:
        events = _each(parts, client, results, list(enumerate(batch.events)), admitted)
    events = _each(parts, client, results, events, resolved)  # reads Redis: not locked
    with PLANNING:
        rules = parts.rules.current
        valid = _each(
            parts, client, results, events, lambda e: (e, planned_for(parts, e, client, rules, now))
        )
    for _, (event, _) in valid:  # first, as for one event
        parts.recipients.keep_safety(client.tenant, event.recipient, now)
    stored = parts.store.accept_many(
        [(f"{client.name}:{event.id}", decided) for _, (event, decided) in valid],
        now,
        ttl=parts.settings.idempotency_ttl_seconds,
    )
    with PLANNING:
        for (index, (event, _)), accepted in zip(valid, stored, strict=True):
            results[index] = {
                **NO_ITEM,
                "index": index,
                "status": 202,
                **answer(parts, event, accepted, client),
            }
        count(parts, client, list(zip([e for _, (e, _) in valid], stored, strict=True)))
        counts = {"accepted": len(valid), "refused": len(batch.events) - len(valid)}
        return answered({**counts, "results": results}, status.HTTP_200_OK)


# One batch at a time validates and plans (or writes its answer) in a process, while
# another's plans go to Redis: four batches planning at once, then all waiting for Redis
# at once, took a fifth longer (the GIL runs one of them at a time anyway). Never held
# across a Redis call.
PLANNING = threading.Lock()

T = TypeVar("T")
U = TypeVar("U")


def _each(
    parts: Engine,
    client: ApiClient,
    results: list[dict[str, Any]],
    items: list[tuple[int, T]],
    step: Callable[[T], U],
) -> list[tuple[int, U]]:
    """``step`` applied to each of a batch's items still in the running, by index; an item
    it refuses gets its refusal in ``results`` (in the single endpoint's words, located in
    the batch) and drops out."""
    kept: list[tuple[int, U]] = []
    for index, item in items:
        where = ["body", "events", index]
        try:
            kept.append((index, step(item)))
        except ValidationError as exc:
            detail = [
                {**e, "loc": [*where, *e["loc"]]}
                for e in exc.errors(include_url=False, include_context=False, include_input=False)
            ]
            results[index] = {**NO_ITEM, "index": index, "status": 422, "detail": detail}
        except HTTPException as exc:
            kind = item.get("type", "") if isinstance(item, dict) else getattr(item, "type", "")
            refused(parts, client, str(kind))
            if isinstance(exc.detail, list):  # 422 from planning: locate it in the batch
                exc.detail = [{**e, "loc": [*where, *e["loc"][1:]]} for e in exc.detail]
            results[index] = {
                **NO_ITEM,
                "index": index,
                "status": exc.status_code,
                "detail": exc.detail,
            }
    return kept
