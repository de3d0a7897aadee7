"""Schedule expressions: when a ``rate(...)``, ``cron(...)`` or ``at(...)`` schedule is next due.

EventBridge scheduled rules and EventBridge Scheduler schedules share AWS's six-field cron syntax
(EventBridge User Guide, "Cron expressions"; EventBridge Scheduler User Guide, "Schedule types"):

    cron(minutes hours day-of-month month day-of-week year)

=============  ===================  ===============
field          values               wildcards
=============  ===================  ===============
minutes        0-59                 , - * /
hours          0-23                 , - * /
day-of-month   1-31                 , - * ? / L W
month          1-12 or JAN-DEC      , - * /
day-of-week    1-7 or SUN-SAT       , - * ? L #
year           1970-2199            , - * /
=============  ===================  ===============

One of day-of-month and day-of-week must be ``?``; ``L`` is the last day of the month (day-of-month),
Saturday or the last given weekday of the month (day-of-week, ``6L`` the last Friday); ``15W`` is the
weekday nearest the 15th within its month; ``2#1`` the first Monday; a range may wrap (hours ``20-2``).
Only the forms AWS documents are accepted; anything else is refused with ``InvalidScheduleExpression``.

``rate(...)`` schedules are intervals and local mode scales them to a laptop; ``cron(...)`` and
``at(...)`` name clock times, so they are due when the real clock (UTC, or the schedule's
``ScheduleExpressionTimezone``) reaches them. In a time zone with daylight saving time a clock time that
does not exist that day is skipped and one that happens twice fires once, as EventBridge Scheduler does.
"""

from __future__ import annotations

import calendar
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TypedDict
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

RULE_REFUSAL = "Parameter ScheduleExpression is not valid."
"""What EventBridge's PutRule answers for an expression it refuses (a ValidationException)."""


def scheduler_refusal(expression: str) -> str:
    """What EventBridge Scheduler's CreateSchedule/UpdateSchedule answer for an expression they refuse."""
    return f"Invalid Schedule Expression {expression}."


class InvalidScheduleExpression(ValueError):
    """An expression AWS refuses; the message says which part is wrong."""

    def __init__(self, expression: str, reason: str) -> None:
        super().__init__(f"{expression}: {reason}")
        self.expression = expression
        self.reason = reason


_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_MINUTES_PER_UNIT = {"minute": 1, "minutes": 1, "hour": 60, "hours": 60, "day": 1440, "days": 1440}
_CRON = re.compile(r"^cron\((.*)\)$")
_NAME = re.compile(r"[A-Za-z]+")
_AT = re.compile(r"^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$")

_MONTHS = {name.upper(): number for number, name in enumerate(calendar.month_abbr) if name}
_WEEKDAYS = {name: number for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)}
_LAST_YEAR = 2199
UTC_ZONE = ZoneInfo("UTC")


def rate_minutes(expression: str | None) -> int | None:
    """Minutes between firings of a ``rate(...)`` schedule; None for any other expression or none."""
    match = _RATE.match(expression or "")
    if not match or int(match.group(1)) < 1:
        return None
    return int(match.group(1)) * _MINUTES_PER_UNIT[match.group(2)]


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    wildcards: str
    names: dict[str, int] = field(default_factory=dict)


_MINUTE = _Field("minutes", 0, 59, ",-*/")
_HOUR = _Field("hours", 0, 23, ",-*/")
_DAY_OF_MONTH = _Field("day-of-month", 1, 31, ",-*?/LW")
_MONTH = _Field("month", 1, 12, ",-*/", _MONTHS)
_DAY_OF_WEEK = _Field("day-of-week", 1, 7, ",-*?L#", _WEEKDAYS)
_YEAR = _Field("year", 1970, _LAST_YEAR, ",-*/")


@dataclass(frozen=True)
class CronExpression:
    """A parsed ``cron(...)`` expression; ``next_after`` answers when it next fires."""

    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int]
    days_of_month: frozenset[int] | None = None
    """Days of the month it fires on; None when day-of-month is ``?`` or special."""
    last_day_of_month: bool = False
    nearest_weekday_to: int | None = None
    days_of_week: frozenset[int] | None = None
    """Days of the week (1 = Sunday) it fires on; None when day-of-week is ``?`` or special."""
    last_weekday_of_month: int | None = None
    nth_weekday: tuple[int, int] | None = None
    """(weekday, n): the n-th such weekday of the month."""

    def fires_on(self, day: date) -> bool:
        if day.year not in self.years or day.month not in self.months:
            return False
        last = calendar.monthrange(day.year, day.month)[1]
        weekday = day.isoweekday() % 7 + 1  # AWS counts 1 = Sunday ... 7 = Saturday
        if self.days_of_month is not None:
            return day.day in self.days_of_month
        if self.last_day_of_month:
            return day.day == last
        if self.nearest_weekday_to is not None:
            return self.nearest_weekday_to <= last and day.day == _nearest_weekday(day, self.nearest_weekday_to, last)
        if self.days_of_week is not None:
            return weekday in self.days_of_week
        if self.last_weekday_of_month is not None:
            return weekday == self.last_weekday_of_month and day.day + 7 > last
        assert self.nth_weekday is not None
        wanted, nth = self.nth_weekday
        return weekday == wanted and (day.day - 1) // 7 + 1 == nth

    def next_after(self, after: datetime, zone: ZoneInfo = UTC_ZONE) -> datetime | None:
        """The first firing strictly after ``after`` (an aware time), as an aware UTC time; None if none is left.

        The fields are read as clock times in ``zone``.
        """
        local = after.astimezone(zone).replace(tzinfo=None)
        # Start a little earlier: around a clock change, a later local time can be an earlier instant.
        day = (local - timedelta(hours=3)).date()
        times = [time(hour, minute) for hour in sorted(self.hours) for minute in sorted(self.minutes)]
        while day.year <= _LAST_YEAR:
            if day.year not in self.years:
                later = [year for year in self.years if year > day.year]
                if not later:
                    return None
                day = date(min(later), 1, 1)
                continue
            if day.month not in self.months:
                day = date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)
                continue
            if self.fires_on(day):
                for clock in times:
                    instant = _instant(datetime.combine(day, clock), zone)
                    if instant is not None and instant > after:
                        return instant
            day += timedelta(days=1)
        return None


def _nearest_weekday(day: date, wanted: int, last: int) -> int:
    """The weekday (Monday to Friday) nearest the ``wanted`` day of ``day``'s month, never leaving the month."""
    weekday = date(day.year, day.month, wanted).weekday()
    if weekday == 5:  # Saturday: the Friday before, or the Monday after the 1st
        return wanted + 2 if wanted == 1 else wanted - 1
    if weekday == 6:  # Sunday: the Monday after, or the Friday before the month's last day
        return wanted - 2 if wanted == last else wanted + 1
    return wanted


def _instant(local: datetime, zone: ZoneInfo) -> datetime | None:
    """The UTC instant of a clock time in ``zone``: its first occurrence, or None when the clock skips it."""
    aware = local.replace(tzinfo=zone, fold=0)
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local:
        return None
    return aware.astimezone(UTC)


def parse_cron(expression: str) -> CronExpression:
    """Parse ``cron(minutes hours day-of-month month day-of-week year)`` as AWS documents it."""
    match = _CRON.match(expression.strip())
    if not match:
        raise InvalidScheduleExpression(expression, "a cron expression is written cron(fields)")
    fields = match.group(1).split()
    if len(fields) != 6:
        raise InvalidScheduleExpression(
            expression,
            f"a cron expression has six fields (minutes hours day-of-month month day-of-week year), not {len(fields)}",
        )
    minutes, hours, day_of_month, month, day_of_week, year = fields
    if (day_of_month == "?") == (day_of_week == "?"):
        raise InvalidScheduleExpression(
            expression, "exactly one of day-of-month and day-of-week must be ? (the other says which days)"
        )
    return CronExpression(
        minutes=_values(expression, _MINUTE, minutes),
        hours=_values(expression, _HOUR, hours),
        months=_values(expression, _MONTH, month),
        years=_values(expression, _YEAR, year),
        **(_day_of_month(expression, day_of_month) if day_of_week == "?" else _day_of_week(expression, day_of_week)),
    )


class _Days(TypedDict, total=False):
    """The day fields of a ``CronExpression``: which days it fires on."""

    days_of_month: frozenset[int]
    last_day_of_month: bool
    nearest_weekday_to: int
    days_of_week: frozenset[int]
    last_weekday_of_month: int
    nth_weekday: tuple[int, int]


def _day_of_month(expression: str, text: str) -> _Days:
    if text == "L":
        return {"last_day_of_month": True}
    if text.endswith("W"):
        day = _number(expression, _DAY_OF_MONTH, text[:-1])
        return {"nearest_weekday_to": day}
    return {"days_of_month": _values(expression, _DAY_OF_MONTH, text)}


def _day_of_week(expression: str, text: str) -> _Days:
    if text == "L":
        return {"days_of_week": frozenset({7})}  # the last day of the week: Saturday
    if "#" in text:
        weekday, _, nth = text.partition("#")
        if not nth.isdigit() or not 1 <= int(nth) <= 5:
            raise InvalidScheduleExpression(
                expression, f"day-of-week {text}: after # comes which one of the month's such weekdays, 1 to 5"
            )
        return {"nth_weekday": (_number(expression, _DAY_OF_WEEK, weekday), int(nth))}
    if text.endswith("L"):
        return {"last_weekday_of_month": _number(expression, _DAY_OF_WEEK, text[:-1])}
    return {"days_of_week": _values(expression, _DAY_OF_WEEK, text)}


def _values(expression: str, spec: _Field, text: str) -> frozenset[int]:
    """The values a field's ``,``-separated list of ``*``, ``a``, ``a-b`` and ``.../step`` parts names."""
    bare = _NAME.sub(lambda name: "" if name.group().upper() in spec.names else name.group(), text)
    unknown = {char for char in bare if not (char.isalnum() or char in spec.wildcards)}
    special = {char for char in bare if char in "?LW#"}
    if unknown or special:
        raise InvalidScheduleExpression(
            expression,
            f"{spec.name} {text!r} uses {''.join(sorted(unknown | special))!r}, which is not allowed there "
            f"(wildcards allowed there: {' '.join(spec.wildcards)}; ? L W # stand alone)",
        )
    values: set[int] = set()
    for part in text.split(","):
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) < 1:
                raise InvalidScheduleExpression(
                    expression, f"{spec.name} {part!r}: the increment must be a positive number"
                )
            step = int(step_text)
        if base == "*":
            first, last = spec.low, spec.high
        elif "-" in base:
            start, _, end = base.partition("-")
            first, last = _number(expression, spec, start), _number(expression, spec, end)
            if first > last and spec is _YEAR:
                raise InvalidScheduleExpression(expression, f"year range {base} runs backwards")
        else:
            first = _number(expression, spec, base)
            last = spec.high if slash else first
        values.update(_walk(spec, first, last, step))
    return frozenset(values)


def _walk(spec: _Field, first: int, last: int, step: int) -> list[int]:
    """``first`` to ``last`` every ``step``; a range whose end is before its start wraps past the field's top."""
    span = (last - first) % (spec.high - spec.low + 1)
    return [spec.low + (first - spec.low + offset) % (spec.high - spec.low + 1) for offset in range(0, span + 1, step)]


def _number(expression: str, spec: _Field, text: str) -> int:
    value = spec.names.get(text.upper()) if text.isalpha() else (int(text) if text.isdigit() else None)
    if value is None or not spec.low <= value <= spec.high:
        names = (
            f" or {min(spec.names, key=spec.names.__getitem__)}-{max(spec.names, key=spec.names.__getitem__)}"
            if spec.names
            else ""
        )
        raise InvalidScheduleExpression(
            expression,
            f"{spec.name} {text!r} is not a value of that field ({spec.low}-{spec.high}{names})",
        )
    return value


def parse_at(expression: str, zone: ZoneInfo = UTC_ZONE) -> datetime:
    """The UTC instant of ``at(yyyy-mm-ddThh:mm:ss)``, read as a clock time in ``zone``."""
    match = _AT.match(expression.strip())
    if not match:
        raise InvalidScheduleExpression(expression, "a one-time schedule is written at(yyyy-mm-ddThh:mm:ss)")
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        local = datetime(year, month, day, hour, minute, second)
    except ValueError as error:
        raise InvalidScheduleExpression(expression, str(error)) from error
    return local.replace(tzinfo=zone).astimezone(UTC)


def time_zone(name: str | None) -> ZoneInfo:
    """The zone named by a schedule's ``ScheduleExpressionTimezone`` (UTC when unset)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidScheduleExpression(str(name), "ScheduleExpressionTimezone is not a time zone name") from error


def validate(expression: str, *, one_time_allowed: bool) -> None:
    """Raise ``InvalidScheduleExpression`` for an expression AWS refuses (``at(...)`` only for Scheduler)."""
    if rate_minutes(expression) is not None:
        return
    if expression.startswith("cron("):
        parse_cron(expression)
    elif one_time_allowed and expression.startswith("at("):
        parse_at(expression)
    else:
        kinds = (
            "rate(value unit), cron(fields) or at(yyyy-mm-ddThh:mm:ss)"
            if one_time_allowed
            else "rate(...) or cron(...)"
        )
        raise InvalidScheduleExpression(expression, f"a schedule expression is {kinds}")


def next_due(expression: str, after: float, *, seconds_per_minute: float, zone: ZoneInfo = UTC_ZONE) -> float | None:
    """When a schedule is next due after ``after`` (epoch seconds); None when it is not due again.

    ``rate(...)`` is due one interval later, at ``seconds_per_minute`` local seconds per minute of its rate;
    ``cron(...)`` at its next clock time; ``at(...)`` at its time, once (at once when that time has passed).
    """
    minutes = rate_minutes(expression)
    if minutes is not None:
        return after + minutes * seconds_per_minute
    moment = datetime.fromtimestamp(after, tz=UTC)
    if expression.startswith("at("):
        return None
    firing = parse_cron(expression).next_after(moment, zone)
    return None if firing is None else firing.timestamp()


def first_due(
    expression: str,
    seen: float,
    *,
    seconds_per_minute: float,
    zone: ZoneInfo = UTC_ZONE,
    rate_at_once: bool = False,
    start: float | None = None,
) -> float | None:
    """When a schedule first seen at ``seen`` is first due: as ``next_due``, and an ``at(...)`` at its time.

    With ``rate_at_once`` (EventBridge Scheduler) a ``rate(...)`` schedule is first due at its ``start`` (its
    StartDate), or at once when it has none: "If you do not provide a StartDate for a rate-based schedule, your
    schedule will start invoking the target immediately" (EventBridge Scheduler User Guide, "Schedule types"). Seen
    after its start, it is due at the first of its times (the start plus whole intervals) not yet past.
    """
    if expression.startswith("at("):
        return parse_at(expression, zone).timestamp()
    minutes = rate_minutes(expression)
    if minutes is not None and rate_at_once:
        if start is None:
            return seen
        if start >= seen:
            return start
        interval = minutes * seconds_per_minute
        return start + math.ceil((seen - start) / interval) * interval
    return next_due(expression, seen, seconds_per_minute=seconds_per_minute, zone=zone)


@dataclass
class DueTimes:
    """When each schedule a timer watches is next due, kept across its ticks.

    A schedule is first due one interval (``rate``), or at its next clock time (``cron``/``at``), after it
    is first seen; with ``rate_at_once`` (EventBridge Scheduler) a ``rate`` schedule is first due at once, or at
    its start date (see ``first_due``). A changed expression, time zone or start date starts it afresh, as an
    updated schedule does.

    A ``rate(...)`` schedule's times are one interval apart, as on AWS, whatever a tick's lateness: a firing
    less than an interval late names its scheduled time, not the tick's, and the next time follows from it.
    (Timed from each tick, the times crept later by each tick's lateness, and a schedule whose time crept over
    a minute boundary skipped that minute's window: the drift monitor derives its window from the scheduled
    time.) A timer an interval or more late (a machine asleep) fires once, now, and goes on from there.
    """

    seconds_per_minute: float
    rate_at_once: bool = False
    _due: dict[str, tuple[tuple[str, str, float | None], float | None]] = field(default_factory=dict)

    def take(
        self, key: str, expression: str, now: float, zone: ZoneInfo = UTC_ZONE, start: float | None = None
    ) -> float | None:
        """The firing's time if ``key`` is due at ``now`` (its next time is then set); else None."""
        signature = (expression, zone.key, start)
        known = self._due.get(key)
        if known is None or known[0] != signature:
            first = first_due(
                expression,
                now,
                seconds_per_minute=self.seconds_per_minute,
                zone=zone,
                rate_at_once=self.rate_at_once,
                start=start,
            )
            known = (signature, first)
            self._due[key] = known
        due = known[1]
        if due is None or now < due:
            return None
        minutes = rate_minutes(expression)
        if minutes is not None and now - due >= minutes * self.seconds_per_minute:
            due = now  # missed firings are not replayed: the schedule fires once, now, and goes on from there
        after = due if minutes is not None else now
        self._due[key] = (signature, next_due(expression, after, seconds_per_minute=self.seconds_per_minute, zone=zone))
        return due

    def forget(self, key: str) -> None:
        self._due.pop(key, None)

    def keep_only(self, keys: set[str]) -> None:
        for key in set(self._due) - keys:
            del self._due[key]
