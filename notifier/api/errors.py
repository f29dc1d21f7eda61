"""The API's answers to what went wrong outside a route's own checks: Redis out of reach or
a write not yet on a replica (503 with ``Retry-After``, never a 500), and a body that is not
JSON (400) or whose fields are wrong (422 naming them, never echoing what was sent)."""

from __future__ import annotations

import logging

import redis
from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from notifier.metrics import ApiMetrics
from notifier.store import NotReplicated

log = logging.getLogger("notifier.api")


def install(app: FastAPI, metrics: ApiMetrics) -> None:
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
