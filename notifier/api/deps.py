"""What a route depends on: the engine's parts, and the client whose key was presented."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi import Path as PathParam
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool

from notifier.channels.webpush import WebPushSettings
from notifier.links import Links
from notifier.metrics import ApiMetrics
from notifier.models import IDENTIFIER_PATTERN, MESSAGE_ID_PATTERN, PushSubscription
from notifier.rules.loader import RulesHolder
from notifier.runtime.settings import Settings
from notifier.store import Store
from notifier.store.aio import LoopAccept
from notifier.store.apikeys import ApiClient, ApiKeys, Scope, digest
from notifier.store.recipients import RecipientStore
from notifier.templates.renderer import TemplatesHolder
from notifier.urls import push_endpoint_problem


@dataclass(frozen=True)
class Engine:
    """The parts every route works with; none holds state of its own beyond Redis."""

    settings: Settings
    store: Store
    rules: RulesHolder
    templates: TemplatesHolder
    recipients: RecipientStore
    keys: ApiKeys
    links: Links
    metrics: ApiMetrics
    clock: Callable[[], datetime]
    # the accept step from the event loop (None: on the thread pool, as every other step)
    accepting: LoopAccept | None = None


# Dependencies that do no I/O are ``async``: FastAPI runs a plain ``def`` one on the thread
# pool, a hand-off that cost about a tenth of an event's CPU at ingest (three per request).


async def engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


EngineDep = Annotated[Engine, Depends(engine)]


class ApiKey(HTTPBearer):
    """The client whose key was presented, if its key holds ``scope``: 401 without a
    known key, 403 naming the scope it lacks.

    One dependency, documented as the ``HTTPBearer`` scheme: FastAPI solving a bearer, a
    lookup and a scope check as three cost a tenth of an event's time at ingest. An
    environment key is known in memory; a key made with ``notifier keys add`` is read from
    Redis, on the thread pool (FastAPI would run a plain ``def`` there too)."""

    def __init__(self, scope: Scope) -> None:
        super().__init__(auto_error=False, scheme_name="HTTPBearer")
        self.scope = scope

    async def __call__(self, request: Request) -> ApiClient:  # type: ignore[override]
        credentials = await super().__call__(request)
        found = None
        if credentials is not None:
            keys: ApiKeys = request.app.state.engine.keys
            key_digest = digest(credentials.credentials)
            found = keys.from_environment(key_digest) or await run_in_threadpool(
                keys.stored, key_digest
            )
        if found is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing or invalid API key: send 'Authorization: Bearer <key>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not found.may(self.scope):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this key lacks the {self.scope.value!r} scope "
                f"(notifier keys add … --scopes {self.scope.value})",
            )
        return found


def scoped(scope: Scope) -> Any:
    """A dependency: the client, if its key holds ``scope`` (:class:`ApiKey`)."""
    return Depends(ApiKey(scope))


EventsClient = Annotated[ApiClient, scoped(Scope.EVENTS)]
RecipientsClient = Annotated[ApiClient, scoped(Scope.RECIPIENTS)]
EraseClient = Annotated[ApiClient, scoped(Scope.ERASE)]
RecipientId = Annotated[str, PathParam(pattern=IDENTIFIER_PATTERN, max_length=128)]
MessageId = Annotated[str, PathParam(pattern=MESSAGE_ID_PATTERN)]


def unprocessable(loc: list[str | int], message: str, kind: str = "value_error") -> HTTPException:
    """A 422 in FastAPI's own shape, naming the field."""
    detail = [{"loc": loc, "msg": message, "type": kind}]
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)


def check_push(parts: Engine, subscription: PushSubscription | None, loc: list[str | int]) -> None:
    """A 422 naming ``loc``'s endpoint unless it is on an allowed push service: the worker
    would post to it (``NOTIFIER_PUSH_ALLOWED_HOSTS``, :mod:`notifier.urls`)."""
    if subscription is None:
        return
    allowed = WebPushSettings.of(parts.settings).push_allowed_hosts
    problem = push_endpoint_problem(subscription.endpoint, allowed)
    if problem is not None:
        raise unprocessable([*loc, "endpoint"], f"push endpoint {problem}")
