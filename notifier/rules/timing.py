"""Pure time arithmetic in the recipient's time zone: local times, quiet hours, cron series.

Everything is computed on wall-clock (naive local) times and placed in the zone at the end,
which is what makes daylight saving time come out right:

* a cron series is iterated on naive local times, so each local date yields its occurrence
  exactly once (croniter on aware times fires a 02:30 job twice on the autumn change);
* a wall-clock time that does not exist (02:30 on the spring change) is placed with
  ``fold=0``, which zoneinfo resolves to the instant an hour later on the clock (03:30), so
  the occurrence is moved, never dropped.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError, croniter


def place(local_day: date, clock: time, timezone: str) -> datetime:
    """The UTC instant of ``clock`` on ``local_day`` in ``timezone``."""
    return datetime.combine(local_day, clock, tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def local_time_relative(moment: datetime, days: int, clock: time, timezone: str) -> datetime:
    """``days`` after (or before, if negative) the local date of ``moment``, at ``clock``."""
    local_day = moment.astimezone(ZoneInfo(timezone)).date() + timedelta(days=days)
    return place(local_day, clock, timezone)


def in_quiet_hours(moment: datetime, window: tuple[time, time], timezone: str) -> bool:
    start, end = window
    if start == end:
        return False
    t = moment.astimezone(ZoneInfo(timezone)).time()
    return start <= t < end if start < end else (t >= start or t < end)


def after_quiet_hours(moment: datetime, window: tuple[time, time], timezone: str) -> datetime:
    """``moment`` if outside the window, else the window's end (the next morning, say)."""
    if not in_quiet_hours(moment, window, timezone):
        return moment
    local = moment.astimezone(ZoneInfo(timezone))
    end = window[1]
    end_day = local.date() if local.time() < end else local.date() + timedelta(days=1)
    return place(end_day, end, timezone)


def next_cron(expression: str, after: datetime, timezone: str) -> datetime | None:
    """The first occurrence of ``expression`` in local time strictly after ``after``.

    Iterates on naive local wall-clock times (see the module docstring). ``None`` if the
    expression never fires (e.g. the 30th of February).
    """
    zone = ZoneInfo(timezone)
    local_after = after.astimezone(zone).replace(tzinfo=None)
    iterator = croniter(expression, local_after)
    try:
        for _ in range(4):
            candidate = iterator.get_next(datetime)
            placed = candidate.replace(tzinfo=zone).astimezone(UTC)
            if placed > after:
                return placed
            # The wall-clock time fell in the autumn repeat hour and maps before ``after``.
    except CroniterBadDateError:
        return None
    return None
