"""Web pages served by the API process: the citizen's own pages (:mod:`notifier.web.pages`)
and the support console (:mod:`notifier.web.console`).

Server-rendered Jinja2 in the French State's design system (DSFR, vendored under
``static/dsfr`` by ``scripts/vendor-dsfr.sh``), French first and English.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from notifier.templates.formatting import format_when
from notifier.web import console, console_safety, gate, history, legal, safety_page, unsubscribe
from notifier.web.guard import PageError
from notifier.web.pages import error_page, router, templates

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Add the pages, their static files and their error page to ``app``."""
    templates.env.filters["localtime"] = lambda value, zone, lang: format_when(value, lang, zone)
    templates.env.filters["stamp"] = console.stamp
    templates.env.filters["status"] = console.status_label
    templates.env.globals["footer_links"] = legal.footer_links

    @app.get("/me/sw.js", include_in_schema=False)
    def service_worker() -> FileResponse:
        """At /me/ so that its scope covers every page of /me/…"""
        return FileResponse(STATIC / "sw.js", media_type="text/javascript")

    app.include_router(safety_page.leave)
    app.include_router(legal.neutral)
    app.include_router(router)
    app.include_router(history.router)
    app.include_router(safety_page.router)
    app.include_router(unsubscribe.router)
    app.include_router(console.router)
    app.include_router(console_safety.router)
    app.include_router(legal.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(console.Login)
    async def to_login(request: Request, exc: console.Login) -> RedirectResponse:
        return RedirectResponse("/ops/login", status_code=303)

    @app.exception_handler(gate.Gated)
    async def gated(request: Request, exc: gate.Gated) -> HTMLResponse:
        return safety_page.gate_page(request, exc)

    @app.exception_handler(PageError)
    async def page_error(request: Request, exc: PageError) -> HTMLResponse:
        response = error_page(request, exc)
        if exc.retry_after is not None:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
