"""The small languages inside rule files: durations (``2h30m``), times of day (``18:00``),
event fields (``data.starts_at``) and timings (``48h before data.starts_at``,
``1 day before data.starts_at at 18:00``, ``immediately``), each read into a value."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time, timedelta
from functools import lru_cache

FIELD_PATH_PATTERN = r"^(occurred_at|data(\.[A-Za-z_][A-Za-z0-9_]*)+)$"
_DURATION_PART = re.compile(r"(\d+)\s*(d|h|m|s)")
_DURATION = re.compile(r"^\s*(\d+\s*[dhms]\s*)+$")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_OFFSET = re.compile(r"^(?P<duration>.+?)\s+(?P<direction>before|after)\s+(?P<field>\S+)$")
_LOCAL = re.compile(
    r"^(?:(?P<days>\d+)\s+days?\s+(?P<direction>before|after)|on)\s+(?P<field>\S+)"
    r"\s+at\s+(?P<clock>\S+)$"
)
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_duration(text: str) -> timedelta:
    """``"1h30m"`` → 90 minutes. Units: d, h, m, s."""
    if not _DURATION.match(text):
        raise ValueError(f"{text!r} is not a duration; write it like 48h, 2h30m, 15m or 1d")
    seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text))
    return timedelta(seconds=seconds)


@lru_cache(maxsize=256)  # planning reads each message's quiet hours: a few distinct texts
def parse_clock(text: str) -> time:
    match = _CLOCK.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a time of day; write it as HH:MM, e.g. 18:00")
    return time(int(match[1]), int(match[2]))


def check_field(path: str) -> str:
    if not re.match(FIELD_PATH_PATTERN, path):
        raise ValueError(
            f"{path!r} is not an event field; use occurred_at or data.<name>, e.g. data.starts_at"
        )
    return path


@dataclass(frozen=True)
class Immediately:
    def __str__(self) -> str:
        return "immediately"


@dataclass(frozen=True)
class Offset:
    """``48h before data.starts_at``: a fixed offset from a timestamp field of the event."""

    delta: timedelta  # negative for "before"
    field: str


@dataclass(frozen=True)
class LocalTime:
    """``1 day before data.starts_at at 18:00``: a wall-clock time in the recipient's zone."""

    days: int  # negative for "before"
    field: str
    clock: time


Timing = Immediately | Offset | LocalTime


def parse_offset(text: str) -> Offset:
    """``30m after data.starts_at``, or a bare field (offset zero)."""
    text = " ".join(text.split())
    match = _OFFSET.match(text)
    if not match:
        return Offset(timedelta(0), check_field(text))
    delta = parse_duration(match["duration"])
    field = check_field(match["field"])
    return Offset(delta=-delta if match["direction"] == "before" else delta, field=field)


def parse_timing(text: str) -> Timing:
    text = " ".join(text.split())
    if text == "immediately":
        return Immediately()
    local = _LOCAL.match(text)
    if local:
        days = int(local["days"] or 0)
        return LocalTime(
            days=-days if local["direction"] == "before" else days,
            field=check_field(local["field"]),
            clock=parse_clock(local["clock"]),
        )
    if not _OFFSET.match(text):
        raise ValueError(
            f"cannot read timing {text!r}; write 'immediately', "
            "'<duration> before|after <field>' (48h before data.starts_at) or "
            "'<n> days before|after <field> at HH:MM' (1 day before data.starts_at at 18:00)"
        )
    return parse_offset(text)
