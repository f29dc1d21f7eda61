"""``/docs``: the API's documentation, Swagger UI over ``/openapi.json``.

FastAPI's own page loads Swagger UI from a CDN (blank without internet) and starts it with an
inline script; this one is served whole by the app: the Swagger UI files vendored under
``notifier/web/static/swagger-ui`` (``scripts/vendor-swagger-ui.sh``) and a small script file.
"""

from __future__ import annotations

from html import escape

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/static/swagger-ui/swagger-ui.css">
<link rel="icon" href="/static/dsfr/favicon/favicon.svg" type="image/svg+xml">
</head>
<body>
<main id="swagger-ui" data-schema="{schema}"></main>
<script src="/static/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/docs.js"></script>
</body>
</html>
"""


def install(app: FastAPI) -> None:
    """Serve ``/docs`` (create ``app`` with ``docs_url=None``)."""
    page = PAGE.format(title=escape(f"{app.title} — API"), schema=escape(app.openapi_url or ""))

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(page)
