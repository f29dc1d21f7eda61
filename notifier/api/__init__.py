"""The HTTP API: events in, message status out.

``POST /v1/events`` answers 202 only after the plan is stored (one atomic Redis step), so an
accepted event is never lost; the same event id from the same client plans once. Bad input
gets a 4xx naming the field; an unreachable Redis a 503 with ``Retry-After``, never a 500.
Each key reads and acts on its own tenant's messages only, within its scopes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import redis
from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from notifier.api import callbacks, docs, events, messages, recipients
from notifier.api.deps import Engine
from notifier.api.http import AllowOptions, BodySizeLimit, SecurityHeaders
from notifier.links import Links
from notifier.metrics import ApiMetrics, EngineCollector
from notifier.rules.loader import RulesHolder
from notifier.rules.pairing import pair
from notifier.runtime.clock import utcnow
from notifier.runtime.settings import Settings
from notifier.store import UNAVAILABLE, NotReplicated, Store
from notifier.store.apikeys import ApiKeys
from notifier.store.recipients import RecipientStore
from notifier.templates.renderer import TemplatesHolder, templates_holder

log = logging.getLogger(__name__)

__all__ = ["create_api"]


def create_api(
    settings: Settings,
    store: Store,
    rules: RulesHolder,
    *,
    templates: TemplatesHolder | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> FastAPI:
    """The API over ``store``; ``templates`` default to those of ``settings.templates_dir``.
    :func:`notifier.app.create_app` adds the pages.

    Raises :class:`~notifier.file_errors.RuleSetError` if a rule names a template that
    cannot render; a later change of either that would do so is refused (``pair``).
    """
    templates = templates or templates_holder(settings.templates_dir)
    pair(rules, templates)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        if settings.rules_reload_seconds > 0:
            rules.watch(stop, settings.rules_reload_seconds)
            templates.watch(stop, settings.rules_reload_seconds)
        yield
        stop.set()

    app = FastAPI(
        title="notifier",
        version="1",
        description=__doc__,
        lifespan=lifespan,
        docs_url=None,  # served by notifier.api.docs, from the package: no CDN
        redoc_url=None,
    )
    app.add_middleware(
        BodySizeLimit,
        limit=settings.max_request_bytes,
        per_path={"/v1/events/batch": settings.max_batch_request_bytes},
    )
    app.add_middleware(AllowOptions)
    app.add_middleware(SecurityHeaders)  # the last added is the outermost: every answer
    app.state.engine = Engine(
        settings=settings,
        store=store,
        rules=rules,
        templates=templates,
        recipients=RecipientStore(store.redis, contact_key=settings.secret()),
        keys=ApiKeys(
            store.redis,
            {name: key.get_secret_value() for name, key in settings.api_keys.items()},
            settings.api_key_scopes,
        ),
        links=Links(
            settings.secret(), settings.public_url, ttl=timedelta(days=settings.link_ttl_days)
        ),
        metrics=(metrics := ApiMetrics()),
        clock=clock,
    )
    metrics.registry.register(EngineCollector(store, {"rules": rules, "templates": templates}))

    @app.exception_handler(redis.ConnectionError)
    @app.exception_handler(redis.TimeoutError)
    @app.exception_handler(redis.exceptions.BusyLoadingError)
    async def redis_unavailable(request: Request, exc: Exception) -> JSONResponse:
        metrics.redis_errors.inc()
        log.error("redis unavailable during %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(
            {"detail": "storage temporarily unavailable; nothing was stored, retry later"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(NotReplicated)
    async def not_replicated(request: Request, exc: NotReplicated) -> JSONResponse:
        metrics.redis_errors.inc()
        log.error("write not confirmed by replicas during %s: %s", request.url.path, exc)
        return JSONResponse(
            {
                "detail": f"not yet copied to a replica ({exc}): it could be lost if the "
                "primary failed now, so it is not confirmed; retry with the same event id, "
                "which plans it once whether it was kept or lost"
            },
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        """A body that is not JSON at all is a 400, as one that is not UTF-8 text is; a 422
        is for JSON whose fields are wrong, and names them — without echoing what was sent
        (pydantic's ``input``: a batch's thousand events, contacts included)."""
        if any(error.get("type") == "json_invalid" for error in exc.errors()):
            return JSONResponse({"detail": "the body is not valid JSON"}, status_code=400)
        errors = [{k: v for k, v in e.items() if k != "input"} for e in exc.errors()]
        return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)

    for module in (events, recipients, messages, callbacks):
        app.include_router(module.router)
    docs.install(app)

    @app.get("/metrics", tags=["operations"], operation_id="metrics", response_class=Response)
    def prometheus_metrics() -> Response:
        """Prometheus metrics of this API process (text exposition format)."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", tags=["operations"], operation_id="healthz")
    def healthz() -> JSONResponse:
        """Redis, the rules and templates in force, and what is off: 503 without Redis."""
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
