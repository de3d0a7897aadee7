"""Schedule expressions as AWS documents them: when cron(...), at(...) and rate(...) schedules next fire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from driftline.local.cron import (
    UTC_ZONE,
    DueTimes,
    InvalidScheduleExpression,
    next_due,
    parse_at,
    parse_cron,
    rate_minutes,
    scheduler_refusal,
    validate,
)

FRIDAY_NOON = datetime(2026, 11, 27, 12, 7, tzinfo=UTC)  # Friday 27 November 2026, 12:07 UTC
NEW_YORK = ZoneInfo("America/New_York")


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _next(expression: str, after: datetime, zone: ZoneInfo = UTC_ZONE) -> datetime | None:
    return parse_cron(expression).next_after(after, zone)


def _series(expression: str, after: datetime, count: int) -> list[datetime]:
    found: list[datetime] = []
    for _ in range(count):
        nxt = _next(expression, found[-1] if found else after)
        assert nxt is not None
        found.append(nxt)
    return found


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # The examples of the EventBridge User Guide's cron table.
        ("cron(0 10 * * ? *)", FRIDAY_NOON, _utc(2026, 11, 28, 10, 0)),  # 10:00 every day
        ("cron(15 12 * * ? *)", FRIDAY_NOON, _utc(2026, 11, 27, 12, 15)),  # 12:15 every day
        ("cron(0 18 ? * MON-FRI *)", _utc(2026, 11, 27, 18, 0), _utc(2026, 11, 30, 18, 0)),  # Friday 18:00 -> Monday
        ("cron(0 8 1 * ? *)", FRIDAY_NOON, _utc(2026, 12, 1, 8, 0)),  # 08:00 on the 1st
        ("cron(0/10 * ? * MON-FRI *)", _utc(2026, 11, 27, 23, 55), _utc(2026, 11, 30, 0, 0)),
        ("cron(0/5 8-17 ? * MON-FRI *)", _utc(2026, 11, 27, 17, 55), _utc(2026, 11, 30, 8, 0)),
        # Hours 20-2 wrap past midnight; Saturday is not MON-FRI.
        ("cron(0/30 20-2 ? * MON-FRI *)", _utc(2026, 11, 27, 23, 45), _utc(2026, 11, 30, 0, 0)),
        ("cron(0/30 20-2 ? * MON-FRI *)", _utc(2026, 11, 26, 23, 45), _utc(2026, 11, 27, 0, 0)),
        ("cron(5,35 14 * * ? *)", _utc(2026, 11, 27, 14, 5), _utc(2026, 11, 27, 14, 35)),
        # 2#1: the first Monday of the month (1 = Sunday), 7 December 2026.
        ("cron(0 9 ? * 2#1 *)", FRIDAY_NOON, _utc(2026, 12, 7, 9, 0)),
        # 6L: the last Friday of the month, in the years 2019 to 2022 only.
        ("cron(15 10 ? * 6L 2019-2022)", _utc(2022, 1, 1, 0, 0), _utc(2022, 1, 28, 10, 15)),
        ("cron(15 10 ? * 6L 2019-2022)", FRIDAY_NOON, None),
        # L in day-of-month: the month's last day, 29 February in a leap year.
        ("cron(0 12 L * ? *)", FRIDAY_NOON, _utc(2026, 11, 30, 12, 0)),
        ("cron(0 12 L 2 ? *)", FRIDAY_NOON, _utc(2027, 2, 28, 12, 0)),
        ("cron(0 12 L 2 ? 2028)", FRIDAY_NOON, _utc(2028, 2, 29, 12, 0)),
        # L alone in day-of-week: the last day of the week, Saturday.
        ("cron(0 12 ? * L *)", FRIDAY_NOON, _utc(2026, 11, 28, 12, 0)),
        # W: the weekday nearest the day, within the month.
        ("cron(0 12 15W * ? *)", _utc(2026, 11, 1), _utc(2026, 11, 16, 12, 0)),  # Sunday 15th -> Monday 16th
        ("cron(0 12 1W * ? *)", _utc(2026, 7, 31), _utc(2026, 8, 3, 12, 0)),  # Saturday 1st -> Monday 3rd
        ("cron(0 12 31W * ? *)", _utc(2026, 12, 31, 13), _utc(2027, 1, 29, 12, 0)),  # Sunday 31st -> Friday 29th
        ("cron(0 12 14W * ? *)", _utc(2026, 11, 1), _utc(2026, 11, 13, 12, 0)),  # Saturday 14th -> Friday 13th
        # Month and weekday names, and lists of them.
        ("cron(0 12 ? JAN,JUL MON *)", FRIDAY_NOON, _utc(2027, 1, 4, 12, 0)),
        ("cron(0 12 ? * SAT-MON *)", FRIDAY_NOON, _utc(2026, 11, 28, 12, 0)),  # a weekday range that wraps
    ],
)
def test_a_cron_expression_next_fires_when_aws_documents(
    expression: str, after: datetime, expected: datetime | None
) -> None:
    assert _next(expression, after) == expected


def test_every_fifteen_minutes_fires_on_the_quarter_hours() -> None:
    assert _series("cron(0/15 * * * ? *)", FRIDAY_NOON, 4) == [
        _utc(2026, 11, 27, 12, 15),
        _utc(2026, 11, 27, 12, 30),
        _utc(2026, 11, 27, 12, 45),
        _utc(2026, 11, 27, 13, 0),
    ]


def test_one_slash_ten_fires_on_the_eleventh_twenty_first_and_so_on() -> None:
    assert [moment.minute for moment in _series("cron(1/10 * * * ? *)", _utc(2026, 11, 27, 12, 0), 6)] == [
        1,
        11,
        21,
        31,
        41,
        51,
    ]


def test_a_cron_schedule_reads_its_fields_in_its_time_zone() -> None:
    # 09:00 in New York on 27 November is 14:00 UTC (EST, UTC-5).
    assert _next("cron(0 9 * * ? *)", FRIDAY_NOON, NEW_YORK) == _utc(2026, 11, 27, 14, 0)


def test_a_clock_time_the_spring_change_skips_does_not_fire_that_day() -> None:
    # New York skips 02:00-03:00 on Sunday 8 March 2026: 02:30 fires next on the 9th, 02:30 EDT = 06:30 UTC.
    assert _next("cron(30 2 * * ? *)", _utc(2026, 3, 7, 8, 0), NEW_YORK) == _utc(2026, 3, 9, 6, 30)


def test_a_clock_time_the_autumn_change_repeats_fires_once() -> None:
    # New York runs 01:00-02:00 twice on Sunday 1 November 2026: 01:30 EDT (05:30 UTC) fires, 01:30 EST does not.
    first = _next("cron(30 1 * * ? *)", _utc(2026, 11, 1, 5, 0), NEW_YORK)
    assert first == _utc(2026, 11, 1, 5, 30)
    assert _next("cron(30 1 * * ? *)", first, NEW_YORK) == _utc(2026, 11, 2, 6, 30)


@pytest.mark.parametrize(
    ("expression", "wrong"),
    [
        ("cron(0 12 * * * *)", "exactly one of day-of-month and day-of-week must be ?"),
        ("cron(7 20 * * 1-7 *)", "exactly one of day-of-month and day-of-week must be ?"),
        ("cron(0 12 ? * ? *)", "exactly one of day-of-month and day-of-week must be ?"),
        ("cron(*/1 * * * *)", "six fields"),
        ("cron(0 12 * * ? * *)", "six fields"),
        ("0 12 * * ? *", "cron(fields)"),
        ("cron(60 12 * * ? *)", "minutes '60' is not a value of that field (0-59)"),
        ("cron(0 24 * * ? *)", "hours '24'"),
        ("cron(0 12 32 * ? *)", "day-of-month '32'"),
        ("cron(0 12 * 13 ? *)", "month '13' is not a value of that field (1-12 or JAN-DEC)"),
        ("cron(0 12 * JANUARY ? *)", "month 'JANUARY'"),
        ("cron(0 12 ? * 8 *)", "day-of-week '8' is not a value of that field (1-7 or SUN-SAT)"),
        ("cron(15 12 ? * -1 *)", "day-of-week ''"),
        ("cron(0 12 * * ? 1969)", "year '1969'"),
        ("cron(0 12 * * ? 2200)", "year '2200'"),
        ("cron(0 12 * * ? 2022-2019)", "year range 2022-2019 runs backwards"),
        ("cron(0/0 * * * ? *)", "the increment must be a positive number"),
        ("cron(0 L * * ? *)", "hours 'L' uses 'L'"),
        ("cron(0 12 ? * MON/2 *)", "day-of-week 'MON/2' uses '/'"),
        ("cron(0 12 ? * 3#1,6#3 *)", "after # comes which one"),
        ("cron(0 12 ? * 2#6 *)", "after # comes which one"),
        ("cron(0 12 L,15 * ? *)", "day-of-month 'L,15' uses 'L'"),
    ],
)
def test_an_expression_aws_refuses_is_refused_saying_what_is_wrong(expression: str, wrong: str) -> None:
    with pytest.raises(InvalidScheduleExpression) as refused:
        parse_cron(expression)

    assert wrong in refused.value.reason
    assert str(refused.value).startswith(expression)


def test_refusals_use_the_wording_of_each_service() -> None:
    from driftline.local.cron import RULE_REFUSAL

    assert RULE_REFUSAL == "Parameter ScheduleExpression is not valid."
    assert scheduler_refusal("cron(0 12 * * * *)") == "Invalid Schedule Expression cron(0 12 * * * *)."


def test_one_time_schedules_are_for_the_scheduler_only() -> None:
    validate("at(2026-12-24T18:30:00)", one_time_allowed=True)

    with pytest.raises(InvalidScheduleExpression, match=r"rate\(\.\.\.\) or cron\(\.\.\.\)"):
        validate("at(2026-12-24T18:30:00)", one_time_allowed=False)


def test_an_at_expression_is_its_clock_time_in_its_time_zone() -> None:
    assert parse_at("at(2026-12-24T18:30:00)") == _utc(2026, 12, 24, 18, 30)
    assert parse_at("at(2026-12-24T18:30:00)", ZoneInfo("Europe/Berlin")) == _utc(2026, 12, 24, 17, 30)


@pytest.mark.parametrize("expression", ["at(2026-02-30T00:00:00)", "at(2026-12-24 18:30:00)", "at(2026-12-24T18:30)"])
def test_an_at_expression_that_is_no_time_is_refused(expression: str) -> None:
    with pytest.raises(InvalidScheduleExpression):
        parse_at(expression)


@pytest.mark.parametrize(
    ("expression", "minutes"),
    [("rate(1 minute)", 1), ("rate(5 minutes)", 5), ("rate(2 hours)", 120), ("rate(1 day)", 1440)],
)
def test_a_rate_expression_gives_its_interval_in_minutes(expression: str, minutes: int) -> None:
    assert rate_minutes(expression) == minutes


@pytest.mark.parametrize("expression", ["cron(0 12 * * ? *)", None, "rate(five minutes)", "rate(0 minutes)"])
def test_other_expressions_have_no_rate(expression: str | None) -> None:
    assert rate_minutes(expression) is None


def test_a_rate_is_scaled_and_a_cron_is_on_the_clock() -> None:
    after = FRIDAY_NOON.timestamp()

    assert next_due("rate(5 minutes)", after, seconds_per_minute=2.0) == after + 10
    assert next_due("cron(15 12 * * ? *)", after, seconds_per_minute=2.0) == _utc(2026, 11, 27, 12, 15).timestamp()
    assert next_due("at(2026-12-24T18:30:00)", after, seconds_per_minute=2.0) is None


def test_a_one_time_schedule_is_due_once_at_its_time() -> None:
    due = DueTimes(seconds_per_minute=1.0)
    christmas_eve = _utc(2026, 12, 24, 18, 30).timestamp()

    seen = due.take("gift", "at(2026-12-24T18:30:00)", FRIDAY_NOON.timestamp())
    early = due.take("gift", "at(2026-12-24T18:30:00)", christmas_eve - 0.1)
    on_time = due.take("gift", "at(2026-12-24T18:30:00)", christmas_eve + 0.1)
    later = due.take("gift", "at(2026-12-24T18:30:00)", christmas_eve + 86400)

    assert (seen, early, on_time, later) == (None, None, christmas_eve, None)


def test_a_changed_expression_starts_the_schedule_afresh() -> None:
    due = DueTimes(seconds_per_minute=1.0)
    now = FRIDAY_NOON.timestamp()
    due.take("monitor", "rate(1 hour)", now)

    due.take("monitor", "cron(30 12 * * ? *)", now + 1)

    assert due.take("monitor", "cron(30 12 * * ? *)", now + 60.5) is None  # the old rate's time is gone
    assert due.take("monitor", "cron(30 12 * * ? *)", _utc(2026, 11, 27, 12, 30).timestamp()) == (
        _utc(2026, 11, 27, 12, 30).timestamp()
    )


def _ticks(first_seen: float, lateness: list[float], interval: float = 60.0) -> list[float]:
    """The timer's ticks around each interval after ``first_seen``: one just before it, one late by the next of
    ``lateness`` (a 2-core machine's timer thread is late by up to a tick and then some)."""
    ticks = []
    for number, late in enumerate(lateness, 1):
        ticks += [first_seen + number * interval - 0.1, first_seen + number * interval + late]
    return ticks


def test_a_rates_firings_are_one_interval_apart_however_late_its_ticks_are() -> None:
    due = DueTimes(seconds_per_minute=1.0)
    first_seen = FRIDAY_NOON.timestamp() + 0.97  # the hourly drift schedule: one firing a local minute
    due.take("monitor", "rate(1 hour)", first_seen)

    lateness = [0.05, 0.15, 0.0, 0.3, 0.19, 0.01]
    fired = [due.take("monitor", "rate(1 hour)", now) for now in _ticks(first_seen, lateness)]

    assert [moment for moment in fired if moment is not None] == [first_seen + 60 * n for n in range(1, 7)]


def test_every_one_minute_monitoring_window_gets_exactly_one_firing_whatever_the_jitter() -> None:
    """Fired just before the minute or on it, each scaled hour's firing names the next window: none is skipped or
    taken twice (the drift monitor's window is the last whole minute before the firing's scheduled time)."""
    from driftline_core.drift.windows import monitoring_window

    due = DueTimes(seconds_per_minute=1.0)
    first_seen = FRIDAY_NOON.replace(second=59).timestamp() + 0.9  # due 0.1 s before each minute
    due.take("monitor", "rate(1 hour)", first_seen)
    ticks = _ticks(first_seen, [0.05, 0.15, 0.05, 0.25, 0.08, 0.3])
    fired = [moment for now in ticks if (moment := due.take("monitor", "rate(1 hour)", now)) is not None]

    windows = [
        monitoring_window(datetime.fromtimestamp(moment, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), 1) for moment in fired
    ]

    assert len(windows) == 6
    assert all(end - start == timedelta(minutes=1) for start, end in windows)
    assert all(earlier[1] == later[0] for earlier, later in pairwise(windows))


def test_a_timer_an_interval_late_fires_once_now_and_goes_on_from_there() -> None:
    due = DueTimes(seconds_per_minute=1.0)
    seen = FRIDAY_NOON.timestamp()
    due.take("monitor", "rate(1 hour)", seen)

    woke = seen + 60 * 5.5  # asleep for five intervals
    fired = [due.take("monitor", "rate(1 hour)", now) for now in (woke, woke + 0.2, woke + 59.9, woke + 60.1)]

    assert fired == [woke, None, None, woke + 60]


def test_a_scheduler_rate_without_a_start_date_is_due_when_first_seen_then_every_interval() -> None:
    """EventBridge Scheduler: without a StartDate a rate-based schedule starts invoking its target immediately."""
    due = DueTimes(seconds_per_minute=1.0, rate_at_once=True)
    seen = FRIDAY_NOON.timestamp()

    fired = [due.take("monitor", "rate(1 hour)", now) for now in (seen, seen + 0.2, seen + 59.9, seen + 60.1)]

    assert fired == [seen, None, None, seen + 60]


def test_a_scheduler_rate_with_a_start_date_is_first_due_at_it_then_every_interval() -> None:
    due = DueTimes(seconds_per_minute=1.0, rate_at_once=True)
    seen = FRIDAY_NOON.timestamp()
    start = seen + 600

    fired = [due.take("monitor", "rate(1 hour)", now, start=start) for now in (seen, start - 0.1, start, start + 60.05)]

    assert fired == [None, None, start, start + 60]


def test_a_scheduler_rate_seen_after_its_start_date_keeps_the_start_dates_times() -> None:
    due = DueTimes(seconds_per_minute=1.0, rate_at_once=True)
    start = FRIDAY_NOON.timestamp()

    first = due.take("monitor", "rate(1 hour)", start + 150, start=start)  # seen 2.5 intervals after its start
    fired = due.take("monitor", "rate(1 hour)", start + 180, start=start)

    assert (first, fired) == (None, start + 180)


def test_a_changed_start_date_starts_a_scheduler_rate_afresh() -> None:
    due = DueTimes(seconds_per_minute=1.0, rate_at_once=True)
    seen = FRIDAY_NOON.timestamp()
    due.take("monitor", "rate(1 hour)", seen, start=seen + 600)

    assert due.take("monitor", "rate(1 hour)", seen + 1) == seen + 1  # StartDate removed: due at once


def test_a_scheduled_rules_rate_still_first_fires_one_interval_after_it_is_seen() -> None:
    due = DueTimes(seconds_per_minute=1.0)  # five rate minutes are five local seconds
    seen = FRIDAY_NOON.timestamp()

    assert [due.take("rule", "rate(5 minutes)", now) for now in (seen, seen + 4.9, seen + 5)] == [None, None, seen + 5]
