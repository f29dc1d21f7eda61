"""HTTP plumbing shared by every route: security headers, body size limit, OPTIONS,
documented errors.

Every status code a route can answer is declared in the OpenAPI schema through
:func:`responses`, so a client generated from the schema knows each of them.
"""

from __future__ import annotations

import re
from contextlib import suppress
from typing import Any

from fastapi import status
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from notifier.links import host_of, same_form, split_host


class Problem(BaseModel):
    """An error other than a validation error: what went wrong, in words."""

    detail: str


ERRORS: dict[int, tuple[str, type[BaseModel] | None]] = {
    400: ("The body is not valid JSON (or not UTF-8 text).", Problem),
    401: ("Missing or invalid API key.", Problem),
    403: ("The key lacks the scope, or may not post this event type.", Problem),
    404: ("Not found (or planned by another tenant).", Problem),
    413: ("The request body is over the limit.", Problem),
    503: (
        "Storage unavailable, or a write not yet copied to a replica; retry after "
        "Retry-After (the same event id plans once).",
        Problem,
    ),
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error codes (422 is documented by FastAPI itself)."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        description, model = ERRORS[code]
        entry: dict[str, Any] = {"description": description, "model": model}
        if code == 503:
            entry["headers"] = {
                "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
            }
        if code == 401:
            entry["headers"] = {
                "WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}
            }
        out[code] = entry
    return out


# What every authenticated route may answer besides its own successes.
AUTHENTICATED = (401, 403, 503)
WITH_BODY = (400, 413)


class AllowOptions:
    """``OPTIONS`` on any documented path answers 204 with ``Allow``: every method it takes.

    Read from the OpenAPI schema, which lists every route (the router itself answers 405
    with the methods of the first route that matches the path only).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._table: list[tuple[re.Pattern[str], str]] | None = None

    def table(self, schema: dict[str, Any]) -> list[tuple[re.Pattern[str], str]]:
        if self._table is None:
            self._table = [
                (
                    re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$"),
                    ", ".join(sorted({m.upper() for m in operations} | {"OPTIONS"})),
                )
                for path, operations in schema["paths"].items()
            ]
        return self._table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            for pattern, allowed in self.table(scope["app"].openapi()):
                if pattern.match(scope["path"]):
                    response = Response(status_code=204, headers={"Allow": allowed})
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


# Scripts, styles, fonts and images from the app's own origin only (the pages' scripts and
# styles are files; DSFR draws icons with data: images), no plugin, no <base>, forms posted
# back here only, and no page inside another site's frame (clickjacking).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),  # frame-ancestors for browsers that predate it
    (b"x-content-type-options", b"nosniff"),
)


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every answer, page or API, unless it sets its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in SECURITY_HEADERS if n not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class NeutralHost:
    """On the discreet messages' host, only the citizen pages and their files answer.

    ``NOTIFIER_DISCREET_PUBLIC_URL`` names a host that names nothing, served by the same API;
    without this, ``/docs``, ``/ops/login`` or the legal pages would name the service there to
    whoever follows the link on a watched phone. Any other path on that host answers a plain
    404, and the pages there are marked ``neutral_host`` in the request's state: they open
    only with the code. Off when the host is unset or is the public one."""

    ALLOWED = ("/me/", "/static/")

    def __init__(self, app: ASGIApp, discreet_url: str | None, public_url: str | None) -> None:
        self.app = app
        self.host = host_of(discreet_url)
        self.public = host_of(public_url)
        if self.host is not None and self.host == self.public:
            self.host = None
        self.name = split_host(self.host)[0] if self.host else None
        # The port tells the two apart only when both URLs name the same host: then only
        # the public URL's port is the public host.
        self.by_port = self.public is not None and split_host(self.public)[0] == self.name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.name is not None and self._on_neutral_host(scope):
            if not scope["path"].startswith(self.ALLOWED):
                await Response("Not Found", status_code=404, media_type="text/plain")(
                    scope, receive, send
                )
                return
            # the pages see it as ``request.state.neutral_host`` (:mod:`notifier.web.gate`)
            scope.setdefault("state", {})["neutral_host"] = True
        await self.app(scope, receive, send)

    def _on_neutral_host(self, scope: Scope) -> bool:
        """The Host header names the neutral host, however written (:func:`same_form`)."""
        said = same_form(dict(scope["headers"]).get(b"host", b"").decode("latin-1"))
        if said is None or split_host(said)[0] != self.name:
            return False
        return not self.by_port or said != self.public


class BodySizeLimit:
    """Refuses request bodies over ``limit`` bytes with a 413, before they are parsed.

    Checked on the declared Content-Length; the bytes actually received are counted when
    there is none (a chunked body has no length to declare).
    """

    def __init__(self, app: ASGIApp, limit: int, *, per_path: dict[str, int] | None = None) -> None:
        self.app = app
        self.default = limit
        self.per_path = per_path or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope["path"], self.default)
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit():
            if int(declared) > limit:
                await self._refuse(limit, scope, receive, send)
                return
            if b"transfer-encoding" not in headers:  # the server reads that many bytes, no more
                await self.app(scope, receive, send)
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

    async def _refuse(self, limit: int, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            {"detail": f"request body over {limit} bytes"},
            status_code=status.HTTP_413_CONTENT_TOO_LARGE,
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass
