"""Dates and times written the way a citizen reads them, in their language and time zone.

Babel knows each locale's month and day names; the patterns below add the conventions a
public service uses in writing: in French "jeudi 12 juin 2026 à 10 h 30" (and "à 10 h" on the
hour), never abbreviations a screen reader would spell out. :data:`FILTERS` offers them to
templates.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from jinja2 import pass_context
from jinja2.runtime import Context

_DATE = {"fr": "EEEE d MMMM y", "en": "EEEE d MMMM y"}
_TIME = {"fr": ("H 'h' mm", "H 'h'"), "en": ("h:mm a", "h a")}
# Read aloud, "10 h 30" becomes "dix h trente": for screen readers the unit is written out.
_SPOKEN_TIME = {"fr": ("H 'heures' mm", "H 'heures'"), "en": ("h:mm a", "h a")}


def _language(locale: str) -> str:
    language = locale.split("-", 1)[0].split("_", 1)[0]
    return language if language in _DATE else "fr"


@cache
def _babel(language: str) -> Locale:
    """Parsed once: Babel parses a locale name on every call otherwise."""
    return Locale.parse(language)


def to_datetime(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        raise ValueError(f"date-time {value!r} has no UTC offset; cannot place it in a time zone")
    return moment


def format_date(value: datetime | str, locale: str, timezone: str, spoken: bool = False) -> str:
    """``jeudi 12 juin 2026``."""
    language = _language(locale)
    moment = to_datetime(value)
    return format_datetime(
        moment, _DATE[language], tzinfo=ZoneInfo(timezone), locale=_babel(language)
    )


def format_time(value: datetime | str, locale: str, timezone: str, spoken: bool = False) -> str:
    """``10 h 30``, or ``10 h`` on the hour; ``10 heures 30`` when ``spoken`` (screen readers)."""
    language = _language(locale)
    local = to_datetime(value).astimezone(ZoneInfo(timezone))
    with_minutes, on_the_hour = (_SPOKEN_TIME if spoken else _TIME)[language]
    pattern = on_the_hour if local.minute == 0 else with_minutes
    return format_datetime(local, pattern, tzinfo=ZoneInfo(timezone), locale=_babel(language))


def format_when(value: datetime | str, locale: str, timezone: str, spoken: bool = False) -> str:
    """``jeudi 12 juin 2026 à 10 h 30``."""
    joiner = {"fr": " à ", "en": " at "}[_language(locale)]
    return (
        format_date(value, locale, timezone) + joiner + format_time(value, locale, timezone, spoken)
    )


def _recipient_filter(function: Any) -> Any:
    """Make a formatting function a Jinja filter using the recipient's locale and time zone."""

    @pass_context
    def apply(context: Context, value: Any) -> str:
        spoken = bool(context.get("needs", {}).get("screen_reader"))
        return str(function(value, context["locale"], context["timezone"], spoken))

    return apply


FILTERS = {
    "date": _recipient_filter(format_date),
    "time": _recipient_filter(format_time),
    "when": _recipient_filter(format_when),
}
