"""Providers' delivery receipts: ``POST /v1/callbacks/{provider}`` for each channel whose
plug-in declares receipts (Twilio's for SMS); the plug-in checks and reads them."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status

from notifier.api.deps import EngineDep
from notifier.api.http import WITH_BODY, responses
from notifier.channels.receipts import ReceiptRefused, Receipts
from notifier.channels.registry import plugins
from notifier.models import MESSAGE_ID_PATTERN, Channel

log = logging.getLogger(__name__)
router = APIRouter(tags=["callbacks"])


def receiver(channel: Channel, receipts: Receipts) -> Callable[..., Awaitable[None]]:
    """The route taking ``receipts`` of messages sent on ``channel``."""

    async def receive(
        request: Request,
        message_id: Annotated[str, Query(pattern=MESSAGE_ID_PATTERN)],
        parts: EngineDep,
    ) -> None:
        body = await request.body()
        try:
            receipt = receipts.read(parts.settings, request.url.query, body, request.headers)
        except ReceiptRefused as exc:
            raise HTTPException(exc.status, exc.detail) from None
        if receipt is None:
            return None
        outcome = parts.store.receipt(
            message_id,
            delivered=receipt.delivered,
            channel=channel,
            now=parts.clock(),
            detail=receipt.detail,
            reference=receipt.reference,
        )
        log.info("message %s: receipt %s (%s)", message_id, receipt.detail, outcome)
        return None

    return receive


def _route_each_channels_receipts() -> None:
    for channel, plugin in plugins().items():
        if plugin.receipts is None:
            continue
        provider = plugin.receipts.provider
        router.add_api_route(
            f"/v1/callbacks/{provider}",
            receiver(channel, plugin.receipts),
            methods=["POST"],
            status_code=status.HTTP_204_NO_CONTENT,
            name=f"{provider}_callback",
            operation_id=f"{provider}_callback",
            description=inspect.cleandoc(plugin.receipts.read.__doc__ or ""),
            responses=responses(403, 503, *WITH_BODY),
        )


_route_each_channels_receipts()
