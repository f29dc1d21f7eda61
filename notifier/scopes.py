"""What an API key may do (see :mod:`notifier.store.apikeys`): its scopes, by name; and
what its client and tenant may be called."""

from __future__ import annotations

import re
from enum import StrEnum

# A client's or tenant's name is part of the store's keys and indexes (``{client}:{event
# id}``, ``{tenant}|{subject}``) and of metrics labels: no separator, no control character.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
NAME_RULE = "1 to 64 letters, digits, '_', '.', '-', starting with a letter or digit"


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
