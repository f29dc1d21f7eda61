"""Ordering conditions (``gt``, ``gte``, ``lt``, ``lte``): like compares with like.

The rule's literal decides what kind of comparison it is, and an event value of another
kind never matches:

- a number (``gte: 2``): numbers, and strings that spell one (``"10"`` is 10);
- an ISO 8601 date-time with an offset (``lt: "2027-01-01T00:00:00+01:00"``): instants, so
  ``10:30+02:00`` and ``08:30Z`` are equal whatever their offsets;
- an ISO 8601 date (``lt: "2027-01-01"``): calendar dates, a date-time by its own local date;
- any other string: strings, by code point.

A literal that would be ambiguous is refused when the rule is loaded (see
:func:`literal_kind`): a quoted number, a date-time without an offset.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any, Literal

Kind = Literal["number", "instant", "date", "text"]

_OPERATORS = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) and value.strip() else None
    return None


def _is_date_only(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def _instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else None
    if isinstance(value, str) and not _is_date_only(value):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else None
    return None


def _date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        if _is_date_only(value):
            return date.fromisoformat(value)
        instant = _instant(value)
        return instant.date() if instant else None
    return None


def literal_kind(literal: Any) -> Kind:
    """What kind of comparison ``literal`` asks for; ValueError if it is ambiguous."""
    if isinstance(literal, bool):
        raise ValueError("compare with a number, a date, a date-time or a string, not true/false")
    if isinstance(literal, int | float):
        return "number"
    if not isinstance(literal, str):
        raise ValueError(f"cannot order by a {type(literal).__name__}")
    if _number(literal) is not None:
        raise ValueError(
            f"{literal!r} is a number in quotes: write it without quotes to compare numbers"
        )
    if _is_date_only(literal):
        return "date"
    try:
        parsed = datetime.fromisoformat(literal)
    except ValueError:
        return "text"
    if parsed.tzinfo is None:
        raise ValueError(f"{literal!r} has no UTC offset: write e.g. {literal}+01:00 or {literal}Z")
    return "instant"


def value_kind(value: Any) -> Kind | None:
    """The kind an event value can be compared as, most specific first (None: none)."""
    if _number(value) is not None:
        return "number"
    if _instant(value) is not None:
        return "instant"
    if _date(value) is not None:
        return "date"
    return "text" if isinstance(value, str) else None


def accepts(kind: Kind, value: Any) -> bool:
    """Whether an event ``value`` can be compared with a literal of ``kind`` at all."""
    return _coerce(value, kind) is not None


def _coerce(value: Any, kind: Kind) -> Any:
    if kind == "number":
        return _number(value)
    if kind == "instant":
        return _instant(value)
    if kind == "date":
        return _date(value)
    return value if isinstance(value, str) else None


def ordered(actual: Any, operator: str, literal: Any) -> bool:
    """``actual <operator> literal``, compared as the literal's kind; False across kinds."""
    try:
        kind = literal_kind(literal)
    except ValueError:
        return False  # refused when the rule is loaded; never true at run time
    left, right = _coerce(actual, kind), _coerce(literal, kind)
    if left is None or right is None:
        return False
    return bool(_OPERATORS[operator](left, right))
