"""The HTTP API: events in, message status out.

``POST /v1/events`` answers 202 only after the plan is stored (one atomic Redis step), so an
accepted event is never lost; the same event id from the same client plans once. Bad input
gets a 422 naming the field; an unreachable Redis a 503 with ``Retry-After``, never a 500.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

import redis
from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.types import ASGIApp, Message, Receive, Send
from starlette.types import Scope as AsgiScope
from twilio.request_validator import RequestValidator

from notifier.apikeys import ApiClient, ApiKeys, Scope
from notifier.delivery import utcnow
from notifier.models import (
    IDENTIFIER_PATTERN,
    MESSAGE_ID_PATTERN,
    Event,
    HistoryEntry,
    MessageStatus,
    Plan,
    PushSubscription,
    Recipient,
)
from notifier.recipients import RecipientStore
from notifier.reloading import RulesHolder
from notifier.rules.engine import EventDataError, missing_fields, plan
from notifier.rules.loader import RuleSet
from notifier.settings import Settings
from notifier.store import UNAVAILABLE, Accepted, Store
from notifier.templates.renderer import TemplatesHolder, templates_holder

log = logging.getLogger(__name__)

MAX_BATCH = 1000  # events per POST /v1/events/batch


class PlannedOut(BaseModel):
    id: str
    rule: str
    due_at: datetime
    channels: list[str]


class SkippedOut(BaseModel):
    rule: str
    reason: str


class EventAccepted(BaseModel):
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


class BatchItem(BaseModel):
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


class BatchAnswer(BaseModel):
    accepted: int
    refused: int
    results: list[BatchItem]


class MessageOut(BaseModel):
    id: str
    status: MessageStatus
    rule: str
    subject: str
    event_id: str
    due_at: datetime
    attempts: int
    rules_version: str
    history: list[HistoryEntry]


class BodySizeLimit:
    """Refuses request bodies over ``limit`` bytes with a 413, before they are parsed.

    Checked on the declared Content-Length and again on the bytes actually received (a
    chunked body has no length to declare).
    """

    def __init__(self, app: ASGIApp, limit: int, *, per_path: dict[str, int] | None = None) -> None:
        self.app = app
        self.default = limit
        self.per_path = per_path or {}

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope["path"], self.default)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(limit, scope, receive, send)
            return
        received = 0
        too_large = False

        async def counting_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                too_large = True
                raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            if not too_large:  # once over the limit, the app's own answer is replaced
                await send(message)

        with suppress(_TooLarge):  # the app may also turn it into its own error: replaced
            await self.app(scope, counting_receive, guarded_send)
        if too_large:
            await self._refuse(limit, scope, receive, send)

    async def _refuse(self, limit: int, scope: AsgiScope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            {"detail": f"request body over {limit} bytes"},
            status_code=status.HTTP_413_CONTENT_TOO_LARGE,
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


_bearer = HTTPBearer(auto_error=False)


def client_name(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiClient:
    """The client whose key was presented (401 otherwise)."""
    keys: ApiKeys = request.app.state.api_keys
    found = keys.identify(credentials.credentials) if credentials else None
    if found is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or invalid API key: send 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return found


def scoped(scope: Scope) -> Any:
    """A dependency: the client, if its key holds ``scope`` (403 naming it otherwise)."""

    def check(client: Annotated[ApiClient, Depends(client_name)]) -> ApiClient:
        if not client.may(scope):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this key lacks the {scope.value!r} scope "
                f"(notifier keys add … --scopes {scope.value})",
            )
        return client

    return Depends(check)


EventsClient = Annotated[ApiClient, scoped(Scope.EVENTS)]
RecipientsClient = Annotated[ApiClient, scoped(Scope.RECIPIENTS)]
EraseClient = Annotated[ApiClient, scoped(Scope.ERASE)]
RecipientId = Annotated[str, PathParam(pattern=IDENTIFIER_PATTERN, max_length=128)]
MessageId = Annotated[str, PathParam(pattern=MESSAGE_ID_PATTERN)]


def create_app(
    settings: Settings,
    store: Store,
    rules: RulesHolder,
    *,
    templates: TemplatesHolder | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> FastAPI:
    """The API over ``store``; ``templates`` default to those of ``settings.templates_dir``."""
    templates = templates or templates_holder(settings.templates_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        if settings.rules_reload_seconds > 0:
            rules.watch(stop, settings.rules_reload_seconds)
            templates.watch(stop, settings.rules_reload_seconds)
        yield
        stop.set()

    app = FastAPI(title="notifier", version="1", description=__doc__, lifespan=lifespan)
    app.add_middleware(
        BodySizeLimit,
        limit=settings.max_request_bytes,
        per_path={"/v1/events/batch": settings.max_batch_request_bytes},
    )
    app.state.api_keys = ApiKeys(
        store.redis, {name: key.get_secret_value() for name, key in settings.api_keys.items()}
    )

    @app.exception_handler(redis.ConnectionError)
    @app.exception_handler(redis.TimeoutError)
    @app.exception_handler(redis.exceptions.BusyLoadingError)
    async def redis_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.error("redis unavailable during %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(
            {"detail": "storage temporarily unavailable; nothing was stored, retry later"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )

    recipients = RecipientStore(store.redis, contact_key=settings.secret())

    def unprocessable(loc: list[str], message: str) -> HTTPException:
        detail = [{"loc": loc, "msg": message, "type": "value_error"}]
        return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)

    def planned_for(event: Event, client: ApiClient, ruleset: RuleSet, now: datetime) -> Plan:
        """What the rules plan for ``event``; an HTTPException (403, 422) if it is refused."""
        if not client.may_post(event.type):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"client {client.name!r} may not post {event.type!r} events",
            )
        if event.recipient.model_fields_set == {"id"}:  # a reference to a registered recipient
            stored = recipients.get(event.recipient.id)
            if stored is None:
                raise unprocessable(
                    ["body", "recipient", "id"],
                    "unknown recipient: send its contacts, or register it first with "
                    "PUT /v1/recipients/{id}",
                )
            event = event.model_copy(update={"recipient": stored})
        try:
            decided = plan(event, ruleset, now, client=client.name, tenant=client.tenant)
        except EventDataError as exc:
            raise unprocessable(["body", *exc.field.split(".")], str(exc)) from None
        missing = missing_fields(event, decided, ruleset, templates.current.fields)
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
        return decided

    def answer(event: Event, accepted: Accepted, client: ApiClient, version: str) -> dict[str, Any]:
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
            "rules_version": version,
            "planned": accepted.planned,
            "skipped": accepted.skipped,
            "cancelled": accepted.cancelled,
        }

    @app.post("/v1/events", status_code=status.HTTP_202_ACCEPTED, response_model=EventAccepted)
    def post_event(event: Event, client: EventsClient) -> dict[str, Any]:
        now = clock()
        ruleset = rules.current
        decided = planned_for(event, client, ruleset, now)
        accepted = store.accept(
            f"{client.name}:{event.id}", decided, now, ttl=settings.idempotency_ttl_seconds
        )
        return answer(event, accepted, client, ruleset.version)

    @app.post("/v1/events/batch", response_model=BatchAnswer)
    def post_events(batch: EventBatch, client: EventsClient) -> dict[str, Any]:
        """Up to 1 000 events, each answered on its own: one refused event refuses no other.

        Each item gets the status the single endpoint would have answered (202, 403, 422),
        and is idempotent in the same way. The accepted ones are stored in one round trip.
        """
        now = clock()
        ruleset = rules.current
        results: list[dict[str, Any]] = [{} for _ in batch.events]
        valid: list[tuple[int, Event, Plan]] = []
        for index, item in enumerate(batch.events):
            where = ["body", "events", index]
            try:
                event = Event.model_validate(item)
                valid.append((index, event, planned_for(event, client, ruleset, now)))
            except ValidationError as exc:
                detail = [
                    {**e, "loc": [*where, *e["loc"]]}
                    for e in exc.errors(include_url=False, include_context=False)
                ]
                results[index] = {"index": index, "status": 422, "detail": detail}
            except HTTPException as exc:
                if isinstance(exc.detail, list):  # 422 from planning: locate it in the batch
                    exc.detail = [{**e, "loc": [*where, *e["loc"][1:]]} for e in exc.detail]
                results[index] = {"index": index, "status": exc.status_code, "detail": exc.detail}
        stored = store.accept_many(
            [(f"{client.name}:{event.id}", decided) for _, event, decided in valid],
            now,
            ttl=settings.idempotency_ttl_seconds,
        )
        for (index, event, _), accepted in zip(valid, stored, strict=True):
            results[index] = {
                "index": index,
                "status": 202,
                **answer(event, accepted, client, ruleset.version),
            }
        return {
            "accepted": len(valid),
            "refused": len(batch.events) - len(valid),
            "results": results,
        }

    @app.put("/v1/recipients/{recipient_id}", response_model=Recipient)
    def put_recipient(
        recipient_id: RecipientId, recipient: Recipient, client: RecipientsClient
    ) -> Recipient:
        if recipient.id != recipient_id:
            raise unprocessable(["body", "id"], f"must be {recipient_id!r}, the id in the URL")
        recipients.put(recipient)
        stored = recipients.get(recipient_id)
        assert stored is not None
        return stored

    @app.get("/v1/recipients/{recipient_id}", response_model=Recipient)
    def get_recipient(recipient_id: RecipientId, client: RecipientsClient) -> Recipient:
        stored = recipients.get(recipient_id)
        if stored is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no recipient {recipient_id!r}")
        return stored

    @app.delete("/v1/recipients/{recipient_id}")
    def erase_recipient(recipient_id: RecipientId, client: EraseClient) -> dict[str, Any]:
        """Erase the recipient and every message about them, pending ones included."""
        removed = recipients.erase(recipient_id)
        log.info("recipient %s erased with %d messages", recipient_id, removed)
        return {"erased": recipient_id, "messages_removed": removed}

    @app.post("/v1/recipients/{recipient_id}/push-subscriptions", status_code=201)
    def add_push_subscription(
        recipient_id: RecipientId, subscription: PushSubscription, client: RecipientsClient
    ) -> dict[str, str]:
        if not recipients.add_push(recipient_id, subscription, clock().timestamp()):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no recipient {recipient_id!r}")
        return {"recipient": recipient_id, "endpoint": subscription.endpoint}

    @app.get("/v1/messages/{message_id}", response_model=MessageOut)
    def get_message(message_id: MessageId, client: EventsClient) -> dict[str, Any]:
        """A message the client's tenant planned; any other id is not found, whether it
        exists or not (a 403 would confirm it does)."""
        record = store.get(message_id)
        if record is None or record.message.tenant != client.tenant:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no message {message_id!r}")
        return {
            "id": record.id,
            "status": record.status,
            "rule": record.message.rule,
            "subject": record.message.subject,
            "event_id": record.message.event_id,
            "due_at": record.due_at,
            "attempts": record.attempts,
            "rules_version": record.message.rules_version,
            "history": record.history,
        }

    @app.post("/v1/callbacks/twilio", status_code=status.HTTP_204_NO_CONTENT)
    async def twilio_callback(
        request: Request, message_id: Annotated[str, Query(pattern=MESSAGE_ID_PATTERN)]
    ) -> None:
        """Twilio's delivery receipt. Authenticated by ``X-Twilio-Signature`` over the public
        URL Twilio called (NOTIFIER_TWILIO_STATUS_CALLBACK_URL, not the address this process
        sees behind a proxy) and the form fields."""
        token = settings.twilio_auth_token
        base = settings.twilio_status_callback_url
        if token is None or base is None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "Twilio callbacks are not configured")
        params = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        called = f"{base}?{request.url.query}" if request.url.query else base
        signature = request.headers.get("X-Twilio-Signature", "")
        if not RequestValidator(token.get_secret_value()).validate(called, params, signature):
            log.warning("refused a Twilio callback with an invalid signature")
            raise HTTPException(status.HTTP_403_FORBIDDEN, "invalid X-Twilio-Signature")
        reported = params.get("MessageStatus", "")
        if reported not in ("delivered", "undelivered", "failed"):
            return None  # queued, sending, sent…: nothing to record yet
        detail = f"Twilio {reported}" + (
            f", error {params['ErrorCode']}" if params.get("ErrorCode") else ""
        )
        outcome = store.receipt(
            message_id,
            delivered=reported == "delivered",
            channel="sms",
            now=clock(),
            detail=detail,
            reference=f"twilio:{params.get('MessageSid', '')}",
        )
        log.info("message %s: Twilio receipt %s (%s)", message_id, reported, outcome)
        return None

    @app.get("/v1/rules")
    def get_rules(client: EventsClient) -> dict[str, Any]:
        """The rules in force, their version, and why the last reload was refused, if it was."""
        ruleset = rules.current
        return {
            "version": ruleset.version,
            "files": list(ruleset.files),
            "rules": [rule.model_dump(mode="json", by_alias=True) for rule in ruleset.rules],
            "reload_error": str(rules.last_error) if rules.last_error else None,
            "templates_version": templates.current.version,
            "templates_reload_error": (str(templates.last_error) if templates.last_error else None),
        }

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        body: dict[str, Any] = {"rules_version": rules.current.version}
        try:
            off = store.channels_off()  # a read: it tells that Redis answers, too
            body["redis"] = "ok"
        except UNAVAILABLE:
            off, body["redis"] = {}, "unavailable"
        if off:  # channels a worker stopped: their messages go to their next channel
            body["channels_off"] = off
        body["templates_version"] = templates.current.version
        if rules.last_error is not None:
            body["rules_reload_error"] = str(rules.last_error)
        if templates.last_error is not None:
            body["templates_reload_error"] = str(templates.last_error)
        healthy = body["redis"] == "ok"
        body["status"] = "ok" if healthy else "degraded"
        return JSONResponse(body, status_code=200 if healthy else 503)

    return app
