"""What a citizen sees and changes on their pages, as pure functions (table-tested).

* contacts masked for display (``06 •• •• •• 78``, ``j•••@example.org``): enough to
  recognise one's own, not enough to learn someone else's;
* the preference grid: each optional category × channel, on or off, and the service
  messages that cannot be turned off, with why;
* the form's answer turned into the recipient's new opt-outs or needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import phonenumbers

from notifier.models import Channel, Need, OptOut, Recipient

DOT = "••"


def mask_phone(e164: str) -> str:
    """``+33612345678`` → ``06 •• •• •• 78``; other countries keep their code."""
    number = phonenumbers.parse(e164)
    national = str(number.national_number)
    if number.country_code == 33 or e164.startswith(("+262", "+590", "+594", "+596")):
        digits = "0" + national if number.country_code == 33 else "0" + national[-9:]
        return f"{digits[:2]} {DOT} {DOT} {DOT} {digits[-2:]}"
    return f"+{number.country_code} {DOT} {DOT} {national[-2:]}"


def mask_email(address: str) -> str:
    """``jeanne.martin@example.org`` → ``j•••@example.org``."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}"


@dataclass(frozen=True)
class Cell:
    channel: Channel
    on: bool
    reachable: bool  # the citizen has a contact for it (else shown, not offered)


@dataclass(frozen=True)
class Row:
    category: str
    label: str
    cells: tuple[Cell, ...]


def field_name(category: str, channel: Channel) -> str:
    return f"{category}:{channel.value}"


def preference_rows(
    recipient: Recipient, categories: Mapping[str, str], channels: Sequence[Channel]
) -> list[Row]:
    """One row per optional category (``categories``: slug → label), one cell per channel."""
    reachable = {c: recipient.contacts.address_for(c) is not None for c in channels}
    return [
        Row(
            category,
            label,
            tuple(
                Cell(channel, recipient.refusal(channel, category) is None, reachable[channel])
                for channel in channels
            ),
        )
        for category, label in categories.items()
    ]


def apply_preferences(
    recipient: Recipient,
    chosen: Iterable[str],
    categories: Iterable[str],
    channels: Sequence[Channel],
) -> Recipient:
    """The recipient with opt-outs for every shown (category, channel) not in ``chosen``.

    ``chosen`` are the ticked boxes' names (:func:`field_name`); ``channels`` those the page
    offered. What the page did not show keeps its state: a form changes only what it showed.
    """
    ticked = set(chosen)
    shown = set(categories)
    kept = [o for o in recipient.opt_outs if o.category not in shown]
    for category in sorted(shown):
        before = {c for o in recipient.opt_outs if o.category == category for c in o.channels}
        off = {c for c in before if c not in channels}
        off |= {c for c in channels if field_name(category, c) not in ticked}
        if off:
            kept.append(OptOut(category=category, channels=frozenset(off)))
    return recipient.model_copy(update={"opt_outs": tuple(kept)})


def apply_needs(recipient: Recipient, chosen: Iterable[str]) -> Recipient:
    """The recipient with exactly the needs ticked (unknown names are ignored)."""
    known = {need.value: need for need in Need}
    needs = frozenset(known[name] for name in chosen if name in known)
    return recipient.model_copy(update={"needs": needs})
