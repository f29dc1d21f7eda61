"""A provider's delivery receipts, as a channel's plug-in declares them: the API serves
``POST /v1/callbacks/{provider}`` for each, and the plug-in reads what the provider posted."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from notifier.runtime.settings import Settings


@dataclass(frozen=True)
class Receipt:
    """The provider's word on a message it took."""

    delivered: bool
    detail: str  # for the message's history, e.g. "Twilio undelivered, error 30003"
    reference: str  # the provider's id of the message, as its send recorded it


class ReceiptRefused(Exception):
    """Not a receipt to act on: the HTTP status and why (never what was posted)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


# settings, the query string, the body, the headers → the receipt; None when there is
# nothing to record yet; raises ReceiptRefused. Its docstring documents the route.
Reader = Callable[["Settings", str, bytes, Mapping[str, str]], Receipt | None]


@dataclass(frozen=True)
class Receipts:
    provider: str  # the route's last segment: POST /v1/callbacks/{provider}
    read: Reader
