"""What a citizen sees and changes on their pages, as pure functions (table-tested).

* the preference grid: each optional category × channel, on or off, and the service
  messages that cannot be turned off, with why;
* the form's answer turned into the recipient's new opt-outs or needs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from notifier.channels.registry import address_of
from notifier.models import Channel, Need, OptOut, Recipient


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
    reachable = {c: address_of(recipient.contacts, c) is not None for c in channels}
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


def alias(category: str) -> str:
    """An opaque stand-in for a category's name on a discreet person's page (the name may
    say what the news is about: ``procedure_news``)."""
    return "c" + hashlib.sha256(category.encode()).hexdigest()[:8]


def disguised(rows: Sequence[Row], label: str) -> list[Row]:
    """For a person with discreet messages: each row under its :func:`alias` and a neutral
    label (``label``, numbered), so the page says nothing of what the news is about."""
    return [Row(alias(r.category), label.format(number=n), r.cells) for n, r in enumerate(rows, 1)]


def undisguised(chosen: Iterable[str], categories: Iterable[str]) -> list[str]:
    """The ticked boxes' names (:func:`field_name`) with each :func:`alias` back to its
    category; other names as they are."""
    back = {alias(c): c for c in categories}
    named = (name.partition(":") for name in chosen)
    return [f"{back.get(head, head)}{colon}{channel}" for head, colon, channel in named]


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
