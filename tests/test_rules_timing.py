"""Local times, quiet hours and cron series in the recipient's zone, DST changes included."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from notifier.rules.timing import (
    after_quiet_hours,
    in_quiet_hours,
    local_time_relative,
    next_cron,
)

PARIS = "Europe/Paris"
NIGHT = (time(21, 0), time(8, 0))


def local(moment: datetime, zone: str = PARIS) -> datetime:
    return moment.astimezone(ZoneInfo(zone))


def series(expression: str, start: datetime, end: datetime, zone: str = PARIS) -> list[datetime]:
    out: list[datetime] = []
    current = start
    while True:
        following = next_cron(expression, current, zone)
        if following is None or following > end:
            return out
        assert following > current
        out.append(following)
        current = following


def test_day_before_at_18_in_recipient_zone() -> None:
    starts = datetime(2026, 6, 12, 8, 30, tzinfo=UTC)  # 10:30 in Paris
    due = local_time_relative(starts, -1, time(18, 0), PARIS)
    assert local(due).isoformat() == "2026-06-11T18:00:00+02:00"
    reunion = local_time_relative(starts, -1, time(18, 0), "Indian/Reunion")
    assert local(reunion, "Indian/Reunion").isoformat() == "2026-06-11T18:00:00+04:00"


def test_local_date_is_the_recipients_not_utcs() -> None:
    starts = datetime(2026, 6, 11, 23, 30, tzinfo=UTC)  # already 12 June in Paris
    due = local_time_relative(starts, 0, time(8, 0), PARIS)
    assert local(due).date() == date(2026, 6, 12)


def test_quiet_hours_defer_to_the_end_of_the_window() -> None:
    evening = datetime(2026, 6, 11, 20, 30, tzinfo=UTC)  # 22:30 in Paris
    assert local(after_quiet_hours(evening, NIGHT, PARIS)).isoformat() == (
        "2026-06-12T08:00:00+02:00"
    )
    small_hours = datetime(2026, 6, 11, 1, 0, tzinfo=UTC)  # 03:00 in Paris
    assert local(after_quiet_hours(small_hours, NIGHT, PARIS)).isoformat() == (
        "2026-06-11T08:00:00+02:00"
    )
    daytime = datetime(2026, 6, 11, 12, 0, tzinfo=UTC)
    assert after_quiet_hours(daytime, NIGHT, PARIS) == daytime
    lunch = (time(12, 0), time(14, 0))
    assert local(after_quiet_hours(daytime, lunch, PARIS)).time() == time(14, 0)


@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31)))
def test_quiet_hours_result_is_never_inside_and_never_earlier(naive: datetime) -> None:
    moment = naive.replace(tzinfo=UTC)
    settled = after_quiet_hours(moment, NIGHT, PARIS)
    assert settled >= moment
    assert not in_quiet_hours(settled, NIGHT, PARIS)
    assert settled - moment <= timedelta(hours=12)


def test_daily_0230_across_both_dst_changes_fires_once_per_local_day() -> None:
    for start, end in [
        (datetime(2026, 3, 27, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
        (datetime(2026, 10, 23, tzinfo=UTC), datetime(2026, 10, 28, tzinfo=UTC)),
    ]:
        fired = series("30 2 * * *", start, end)
        days = [local(f).date() for f in fired]
        assert len(days) == len(set(days)) == 5
        clocks = {local(f).date(): local(f).time() for f in fired}
        for day, clock in clocks.items():
            # 02:30 does not exist on 29 March: the occurrence moves to 03:30, never vanishes
            assert clock == (time(3, 30) if day == date(2026, 3, 29) else time(2, 30))


@given(
    hour=st.integers(0, 23),
    minute=st.sampled_from([0, 15, 30, 45]),
    year=st.integers(2026, 2030),
)
def test_daily_series_across_dst_weeks_is_exactly_once_per_day(
    hour: int, minute: int, year: int
) -> None:
    for month in (3, 10):
        start = datetime(year, month, 20, tzinfo=UTC)
        fired = series(f"{minute} {hour} * * *", start, start + timedelta(days=14))
        days = [local(f).date() for f in fired]
        assert len(days) == len(set(days))
        expected = {local(start).date() + timedelta(days=n) for n in range(1, 14)}
        assert expected <= set(days)
        for f in fired:
            clock = local(f).time()
            # wall-clock time kept, except an hour that does not exist on the spring change
            assert clock == time(hour, minute) or (
                local(f).date().month == 3 and clock == time(hour + 1, minute)
            )


def test_weekly_monday_series() -> None:
    fired = series(
        "0 9 * * MON", datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
    )
    assert [local(f).day for f in fired] == [5, 12, 19, 26]
    assert {local(f).time() for f in fired} == {time(9, 0)}
    assert [local(f).utcoffset() for f in fired][-1] == timedelta(hours=1)  # after the change


def test_cron_that_never_fires() -> None:
    assert next_cron("0 0 30 2 *", datetime(2026, 1, 1, tzinfo=UTC), PARIS) is None
