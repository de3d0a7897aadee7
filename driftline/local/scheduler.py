"""EventBridge Scheduler: schedules fire their Lambda targets, and CreateSchedule refuses what AWS refuses.

moto stores schedules (CreateSchedule, UpdateSchedule, GetSchedule, ...) but never fires them. Here a timer
fires every enabled schedule:

- ``rate(...)`` at once when it is first seen (the first tick after CreateSchedule), or from its
  ``StartDate`` when it has one, and every interval after, as the EventBridge Scheduler User Guide's
  "Schedule types" describes rate-based schedules; the rate is scaled to a laptop as scheduled rules' are
  (``LocalSettings.schedule_seconds_per_minute``);
- ``cron(...)`` at each clock time it names, on the real clock in its ``ScheduleExpressionTimezone``
  (wall-clock schedules are about clock times, so they are not scaled);
- ``at(...)`` once, when the real clock in that time zone reaches its time (at once if that time has
  passed when the schedule is first seen).

A recurring schedule fires only from its ``StartDate`` and before its ``EndDate``; a schedule with
``ActionAfterCompletion`` ``DELETE`` is deleted once it has completed (its ``at(...)`` fired, or its
``EndDate`` passed), as EventBridge Scheduler does. A Lambda target gets an asynchronous invocation, as
EventBridge Scheduler makes, with the schedule's ``Input`` in which the context attributes
(``<aws.scheduler.scheduled-time>``, the firing's clock time; ``<aws.scheduler.schedule-arn>``,
``<aws.scheduler.execution-id>``, ``<aws.scheduler.attempt-number>``) are replaced by their values. Other
targets are not fired locally; the console says so once.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from moto.scheduler.exceptions import ValidationException
from moto.scheduler.models import EventBridgeSchedulerBackend, scheduler_backends
from moto.utilities.arns import parse_arn

from driftline.local import iam, lambda_runtime, seams
from driftline.local.console import Console
from driftline.local.cron import InvalidScheduleExpression, scheduler_refusal, time_zone, validate
from driftline.local.events import ScheduleTimer
from driftline.local.settings import ACCOUNT_ID

Invoke = Callable[[str, Any, str], None]


def context_input(text: str, *, schedule_arn: str, fired_at: float) -> str:
    """The Input with EventBridge Scheduler's context attributes replaced, as the target receives it."""
    values = {
        "<aws.scheduler.schedule-arn>": schedule_arn,
        "<aws.scheduler.scheduled-time>": datetime.fromtimestamp(fired_at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "<aws.scheduler.execution-id>": uuid.uuid4().hex[:16],
        "<aws.scheduler.attempt-number>": "1",
    }
    for keyword, value in values.items():
        text = text.replace(keyword, value)
    return text


def _epoch(value: Any) -> float | None:
    """A StartDate/EndDate as moto keeps it (the request's epoch seconds, or an ISO 8601 text)."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


class SchedulerTimer(ScheduleTimer):
    """Fires the enabled schedules of every group when they are due (see the module's description)."""

    thread_name = "eventbridge-scheduler"
    rates_fire_at_once = True

    def __init__(
        self,
        region: str,
        seconds_per_minute: float,
        console: Console,
        *,
        tick: float = 0.2,
        clock: Callable[[], float] = time.time,
        invoke: Invoke = lambda_runtime.invoke_async,
    ) -> None:
        super().__init__(region, seconds_per_minute, tick=tick, clock=clock)
        self.console = console
        self.invoke = invoke

    def say(self, message: str) -> None:
        self.console.line("scheduler", message)

    def fire_due(self, now: float) -> list[str]:
        backend = scheduler_backends[ACCOUNT_ID][self.region]
        fired = []
        seen = set()
        for group in list(backend.schedule_groups.values()):
            for schedule in list(group.schedules.values()):
                seen.add(schedule.arn)
                if self._fire_if_due(backend, schedule, now):
                    fired.append(schedule.name)
        self.due.keep_only(seen)  # deleted schedules
        return fired

    def _fire_if_due(self, backend: EventBridgeSchedulerBackend, schedule: Any, now: float) -> bool:
        expression = str(schedule.schedule_expression)
        # UpdateSchedule without a State means ENABLED on AWS; moto stores None.
        if (schedule.state or "ENABLED") != "ENABLED":
            self.due.forget(schedule.arn)
            return False
        one_time = expression.startswith("at(")
        end = None if one_time else _epoch(schedule.end_date)
        if end is not None and now >= end:
            self._completed(backend, schedule)
            return False
        try:
            zone = time_zone(schedule.schedule_expression_timezone)
        except InvalidScheduleExpression as error:
            self.say_once(schedule.arn, f"schedule {schedule.name}: {error}; it is not fired")
            return False
        start = None if one_time else _epoch(schedule.start_date)
        due = self.due_at(schedule.arn, f"schedule {schedule.name}", expression, now, zone, start)
        if due is None or (start is not None and due < start):
            return False
        fired = self._fire(schedule, due)
        if one_time:
            self._completed(backend, schedule)
        return fired

    def _completed(self, backend: EventBridgeSchedulerBackend, schedule: Any) -> None:
        if schedule.action_after_completion == "DELETE":
            backend.delete_schedule(schedule.group_name, schedule.name)
            self.due.forget(schedule.arn)
            self.say(f"schedule {schedule.name} completed and was deleted (ActionAfterCompletion DELETE)")

    def _fire(self, schedule: Any, fired_at: float) -> bool:
        target = schedule.target
        arn = str(target.get("Arn", ""))
        if parse_arn(arn).service != "lambda":
            self.say_once(schedule.arn, f"schedule {schedule.name}: target {arn} is not fired locally (Lambda only)")
            return False
        text = context_input(str(target.get("Input") or "{}"), schedule_arn=schedule.arn, fired_at=fired_at)
        try:  # EventBridge Scheduler invokes the target as the schedule's role
            iam.authorize_action(
                iam.role_session(str(target.get("RoleArn") or ""), "Scheduler"), "lambda:InvokeFunction", arn
            )
        except iam.AccessDenied as denied:
            self.say(f"schedule {schedule.name} could not invoke its target: {denied}")
            return False
        self.say(f"schedule {schedule.name} fired")
        self.invoke(arn, json.loads(text), self.region)
        return True


_timers: list[SchedulerTimer] = []
_VALIDATED = ("create_schedule", "update_schedule")


def start(region: str, seconds_per_minute: float, console: Console, due_times: dict[str, Any] | None = None) -> None:
    """Fire the running local cloud's EventBridge Scheduler schedules until ``stop`` (from saved ``due_times``)."""
    stop()
    if seams.claim("scheduler"):
        _refuse_what_aws_refuses()
        timer = SchedulerTimer(region, seconds_per_minute, console)
        timer.resume_due_times(due_times or {})
        _timers.append(timer)
        timer.start()


def due_times() -> dict[str, Any]:
    """The schedules' next due times, to save."""
    return _timers[-1].due_times() if _timers else {}


def stop() -> None:
    while _timers:
        _timers.pop().stop()
    seams.undo("scheduler", [(EventBridgeSchedulerBackend, name) for name in _VALIDATED])


def _refuse_what_aws_refuses() -> None:
    """CreateSchedule and UpdateSchedule answer an expression or time zone AWS refuses with its ValidationException."""
    for name in _VALIDATED:
        seams.replace(EventBridgeSchedulerBackend, name, _validating(getattr(EventBridgeSchedulerBackend, name)))


def _validating(action: Callable[..., Any]) -> Callable[..., Any]:
    def validated(self: EventBridgeSchedulerBackend, **kwargs: Any) -> Any:
        expression = str(kwargs.get("schedule_expression") or "")
        zone = kwargs.get("schedule_expression_timezone")
        try:
            validate(expression, one_time_allowed=True)
        except InvalidScheduleExpression as error:
            raise ValidationException(f"{scheduler_refusal(expression)} {error.reason}.") from error
        try:
            time_zone(zone)
        except InvalidScheduleExpression as error:
            raise ValidationException(
                f"ScheduleExpressionTimezone {zone} is not a time zone name; use an IANA name such as Europe/Paris."
            ) from error
        return action(self, **kwargs)

    return validated
