"""The web application: the API (:mod:`notifier.api`) with the citizen pages and the console
(:mod:`notifier.web`) installed on it. Assembled here, above both, as the pages use the API's
engine and the API knows nothing of the pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI

from notifier import web
from notifier.api import create_api
from notifier.rules.loader import RulesHolder
from notifier.runtime.clock import utcnow
from notifier.runtime.settings import Settings
from notifier.store import Store
from notifier.templates.renderer import TemplatesHolder


def create_app(
    settings: Settings,
    store: Store,
    rules: RulesHolder,
    *,
    templates: TemplatesHolder | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> FastAPI:
    """The API over ``store`` with its pages; see :func:`notifier.api.create_api`."""
    app = create_api(settings, store, rules, templates=templates, clock=clock)
    web.install(app)
    return app
