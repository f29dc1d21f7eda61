"""``/metrics`` and ``/healthz``: what the on-call engineer reads of an API process."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from notifier.api.deps import EngineDep
from notifier.store import UNAVAILABLE

router = APIRouter()


@router.get("/metrics", tags=["operations"], operation_id="metrics", response_class=Response)
def prometheus_metrics(parts: EngineDep) -> Response:
    """Prometheus metrics of this API process (text exposition format)."""
    return Response(generate_latest(parts.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/healthz", tags=["operations"], operation_id="healthz")
def healthz(parts: EngineDep) -> JSONResponse:
    """Redis, the rules and templates in force, and what is off: 503 without Redis."""
    rules, templates = parts.rules, parts.templates
    body: dict[str, Any] = {"rules_version": rules.current.version}
    try:
        off = parts.store.channels_off()  # a read: it tells that Redis answers, too
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
