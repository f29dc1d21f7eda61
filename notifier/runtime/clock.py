"""The engine's one clock: every part asks it, so tests can set the time."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def utc_text(moment: datetime) -> str:
    """``moment`` in UTC as the API writes every time: ISO 8601 with ``Z`` (as pydantic does)."""
    if moment.tzinfo is not UTC:  # planned times are in UTC already
        moment = moment.astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")
