"""What an API key may do (see :mod:`notifier.store.apikeys`): its scopes, by name."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    EVENTS = "events"
    RECIPIENTS = "recipients"
    ERASE = "erase"
    OPS = "ops"  # the support console: every tenant's messages, cancel and resend


def parse_scopes(text: str) -> frozenset[Scope]:
    """``events,recipients`` → the scopes; a ValueError naming an unknown one."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in {s.value for s in Scope}]
    if unknown or not names:
        raise ValueError(
            f"unknown scope {', '.join(unknown) or '(none)'}; "
            f"choose among {', '.join(s.value for s in Scope)}"
        )
    return frozenset(Scope(n) for n in names)
