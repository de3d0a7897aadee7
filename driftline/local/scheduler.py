"""EventBridge Scheduler: schedules with a ``rate(...)`` expression fire their Lambda targets.

moto stores schedules (CreateSchedule, UpdateSchedule, GetSchedule, ...) but never fires them. Here a timer
fires every enabled ``rate(...)`` schedule one interval after it was first seen and every interval after, with
the rate scaled to a laptop as scheduled rules are (``LocalSettings.schedule_seconds_per_minute``). A Lambda
target gets an asynchronous invocation, as EventBridge Scheduler makes, with the schedule's ``Input`` in which
the context attributes (``<aws.scheduler.scheduled-time>``, ``<aws.scheduler.schedule-arn>``,
``<aws.scheduler.execution-id>``, ``<aws.scheduler.attempt-number>``) are replaced by their values.
``cron(...)``/``at(...)`` schedules and other targets are not fired locally; the console says so once.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from moto.scheduler.models import scheduler_backends
from moto.utilities.arns import parse_arn

from driftline.local import lambda_runtime, seams
from driftline.local.console import Console
from driftline.local.events import rate_minutes
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


class SchedulerTimer:
    """Fires the enabled ``rate(...)`` schedules of every group, one rate minute every ``seconds_per_minute``."""

    def __init__(
        self,
        region: str,
        seconds_per_minute: float,
        console: Console,
        *,
        tick: float = 0.2,
        invoke: Invoke = lambda_runtime.invoke_async,
    ) -> None:
        self.region = region
        self.seconds_per_minute = seconds_per_minute
        self.console = console
        self.tick = tick
        self.invoke = invoke
        self._due: dict[str, float] = {}
        self._told: set[str] = set()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="eventbridge-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def fire_due(self, now: float) -> list[str]:
        """Fire the schedules whose time has come; returns their names."""
        backend = scheduler_backends[ACCOUNT_ID][self.region]
        fired = []
        seen = set()
        for group in list(backend.schedule_groups.values()):
            for schedule in list(group.schedules.values()):
                seen.add(schedule.arn)
                minutes = rate_minutes(schedule.schedule_expression)
                # UpdateSchedule without a State means ENABLED on AWS; moto stores None.
                if minutes is None or (schedule.state or "ENABLED") != "ENABLED":
                    self._once(schedule.arn, f"schedule {schedule.name}: {schedule.schedule_expression} is not fired")
                    self._due.pop(schedule.arn, None)
                    continue
                interval = minutes * self.seconds_per_minute
                due = self._due.setdefault(schedule.arn, now + interval)
                if now < due:
                    continue
                self._due[schedule.arn] = now + interval
                if self._fire(schedule, now):
                    fired.append(schedule.name)
        for arn in set(self._due) - seen:  # deleted schedules
            self._due.pop(arn)
        return fired

    def _fire(self, schedule: Any, now: float) -> bool:
        target = schedule.target
        arn = str(target.get("Arn", ""))
        if parse_arn(arn).service != "lambda":
            self._once(schedule.arn, f"schedule {schedule.name}: target {arn} is not fired locally (Lambda only)")
            return False
        text = context_input(str(target.get("Input") or "{}"), schedule_arn=schedule.arn, fired_at=now)
        self.console.line("scheduler", f"schedule {schedule.name} fired")
        self.invoke(arn, json.loads(text), self.region)
        return True

    def _once(self, key: str, message: str) -> None:
        if key not in self._told:
            self._told.add(key)
            self.console.line("scheduler", message)

    def _run(self) -> None:
        while not self._stopped.wait(self.tick):
            try:
                self.fire_due(time.time())
            except Exception as error:  # a schedule must survive one bad firing, as on AWS
                self.console.line("scheduler", f"schedules: {error}")


_timers: list[SchedulerTimer] = []


def start(region: str, seconds_per_minute: float, console: Console) -> None:
    """Fire the running local cloud's EventBridge Scheduler schedules until ``stop``."""
    stop()
    if seams.claim("scheduler"):
        timer = SchedulerTimer(region, seconds_per_minute, console)
        _timers.append(timer)
        timer.start()


def stop() -> None:
    while _timers:
        _timers.pop().stop()
    seams.undo("scheduler", [])
