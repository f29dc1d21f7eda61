"""The HTTP API: events in, message status out.

``POST /v1/events`` answers 202 only after the plan is stored (one atomic Redis step), so an
accepted event is never lost; the same event id from the same client plans once. Bad input
gets a 4xx naming the field; an unreachable Redis a 503 with ``Retry-After``, never a 500.
Each key reads and acts on its own tenant's messages only, within its scopes.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timedelta

from fastapi import FastAPI

from notifier.api import callbacks, docs, errors, events, messages, operations, recipients
from notifier.api.deps import Engine
from notifier.api.http import AllowOptions, BodySizeLimit, NeutralHost, SecurityHeaders
from notifier.links import Links
from notifier.metrics import ApiMetrics, EngineCollector
from notifier.rules.loader import RulesHolder
from notifier.rules.pairing import pair
from notifier.runtime.clock import utcnow
from notifier.runtime.settings import Settings
from notifier.store import Store
from notifier.store.aio import LoopAccept
from notifier.store.apikeys import ApiKeys
from notifier.store.recipients import RecipientStore
from notifier.templates.renderer import TemplatesHolder, templates_holder

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

    app = FastAPI(
        title="notifier",
        version="1",
        description=__doc__,
        lifespan=_watching(settings, rules, templates),
        docs_url=None,  # served by notifier.api.docs, from the package: no CDN
        redoc_url=None,
    )
    app.add_middleware(
        BodySizeLimit,
        limit=settings.max_request_bytes,
        per_path={"/v1/events/batch": settings.max_batch_request_bytes},
    )
    app.add_middleware(AllowOptions)
    app.add_middleware(
        NeutralHost, discreet_url=settings.discreet_public_url, public_url=settings.public_url
    )
    app.add_middleware(SecurityHeaders)  # the last added is the outermost: every answer
    app.state.engine = engine = _engine(settings, store, rules, templates, clock)
    errors.install(app, engine.metrics)
    for module in (events, recipients, messages, callbacks):
        app.include_router(module.router)
    docs.install(app)
    app.include_router(operations.router)
    return app


def _watching(
    settings: Settings, rules: RulesHolder, templates: TemplatesHolder
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's lifespan: while it serves, rules and templates are reloaded when changed."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        if settings.rules_reload_seconds > 0:
            rules.watch(stop, settings.rules_reload_seconds)
            templates.watch(stop, settings.rules_reload_seconds)
        yield
        stop.set()
        if app.state.engine.accepting is not None:
            await app.state.engine.accepting.close()

    return lifespan


def _engine(
    settings: Settings,
    store: Store,
    rules: RulesHolder,
    templates: TemplatesHolder,
    clock: Callable[[], datetime],
) -> Engine:
    metrics = ApiMetrics()
    metrics.registry.register(EngineCollector(store, {"rules": rules, "templates": templates}))
    return Engine(
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
        metrics=metrics,
        clock=clock,
        accepting=LoopAccept(store, store.connect_async) if store.connect_async else None,
    )
