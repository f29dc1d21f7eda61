"""Providers' delivery receipts: ``POST /v1/callbacks/twilio``, signature checked."""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Query, Request, status
from twilio.request_validator import RequestValidator

from notifier.api.deps import EngineDep
from notifier.api.http import WITH_BODY, responses
from notifier.models import MESSAGE_ID_PATTERN, Channel

log = logging.getLogger(__name__)
router = APIRouter(tags=["callbacks"])


@router.post(
    "/v1/callbacks/twilio",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="twilio_callback",
    responses=responses(403, 503, *WITH_BODY),
)
async def twilio_callback(
    request: Request,
    message_id: Annotated[str, Query(pattern=MESSAGE_ID_PATTERN)],
    parts: EngineDep,
) -> None:
    """Twilio's delivery receipt. Authenticated by ``X-Twilio-Signature`` over the public
    URL Twilio called (NOTIFIER_TWILIO_STATUS_CALLBACK_URL, not the address this process
    sees behind a proxy) and the form fields."""
    token = parts.settings.twilio_auth_token
    base = parts.settings.twilio_status_callback_url
    if token is None or base is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Twilio callbacks are not configured")
    try:
        form = (await request.body()).decode()
    except UnicodeDecodeError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the form is not UTF-8 text") from None
    params = dict(parse_qsl(form, keep_blank_values=True))
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
    outcome = parts.store.receipt(
        message_id,
        delivered=reported == "delivered",
        channel=Channel.SMS,
        now=parts.clock(),
        detail=detail,
        reference=f"twilio:{params.get('MessageSid', '')}",
    )
    log.info("message %s: Twilio receipt %s (%s)", message_id, reported, outcome)
    return None
