"""Local EventBridge Scheduler: schedules fire their Lambda target with the Input, context filled in."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from driftline.local.console import Console
from driftline.local.scheduler import SchedulerTimer

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:driftline-StartMonitoringFunction"
ROLE_ARN = "arn:aws:iam::123456789012:role/driftline-MonitoringSchedulerRole"
START = 1795435200.0  # 2026-11-23T12:00:00Z


@pytest.fixture
def scheduler(aws: None) -> Iterator[Any]:
    yield boto3.client("scheduler", region_name="us-east-1")


def _create(
    client: Any, name: str, expression: str, *, state: str = "ENABLED", arn: str = FUNCTION_ARN, **extra: Any
) -> None:
    client.create_schedule(
        Name=name,
        ScheduleExpression=expression,
        FlexibleTimeWindow={"Mode": "OFF"},
        State=state,
        Target={
            "Arn": arn,
            "RoleArn": ROLE_ARN,
            "Input": json.dumps({"endpoint_name": name, "scheduled_time": "<aws.scheduler.scheduled-time>"}),
        },
        **extra,
    )


def _timer(invoked: list[tuple[str, Any]], seconds_per_minute: float = 1.0) -> SchedulerTimer:
    return SchedulerTimer(
        "us-east-1",
        seconds_per_minute,
        Console(io.StringIO()),
        invoke=lambda arn, payload, region: invoked.append((arn, payload)),
    )


def test_an_hourly_schedule_fires_at_once_then_once_per_scaled_hour_with_the_scheduled_time(scheduler: Any) -> None:
    """Without a StartDate a rate-based schedule "will start invoking the target immediately" (EventBridge
    Scheduler User Guide, "Schedule types")."""
    _create(scheduler, "driftline-credit-drift-monitor", "rate(1 hour)")
    invoked: list[tuple[str, Any]] = []
    timer = _timer(invoked)

    fired = [timer.fire_due(now=START + offset) for offset in (0.0, 0.2, 59.9, 60.0, 119.0, 120.0)]

    name = "driftline-credit-drift-monitor"
    assert fired == [[name], [], [], [name], [], [name]]
    assert [payload["scheduled_time"] for _, payload in invoked] == [
        "2026-11-23T12:00:00Z",
        "2026-11-23T12:01:00Z",
        "2026-11-23T12:02:00Z",
    ]


def test_an_hourly_schedule_with_a_start_date_first_fires_at_it_then_once_per_scaled_hour(scheduler: Any) -> None:
    hour = (int(time.time()) // 3600 + 1) * 3600  # AWS refuses a StartDate in the past
    _create(scheduler, "later", "rate(1 hour)", StartDate=datetime.fromtimestamp(hour + 1800, tz=UTC))
    invoked: list[tuple[str, Any]] = []
    timer = _timer(invoked)

    offsets = (0.0, 1799.9, 1800.0, 1859.9, 1860.0)
    fired = [timer.fire_due(now=hour + offset) for offset in offsets]

    assert fired == [[], [], ["later"], [], ["later"]]
    assert [payload["scheduled_time"] for _, payload in invoked] == [
        datetime.fromtimestamp(hour + offset, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for offset in (1800, 1860)
    ]


def test_an_updated_schedule_fires_with_its_new_input(scheduler: Any) -> None:
    _create(scheduler, "driftline-credit-drift-monitor", "rate(1 hour)")
    invoked: list[tuple[str, Any]] = []
    timer = _timer(invoked)
    timer.fire_due(now=START)
    scheduler.update_schedule(
        Name="driftline-credit-drift-monitor",
        ScheduleExpression="rate(1 hour)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": FUNCTION_ARN, "RoleArn": ROLE_ARN, "Input": json.dumps({"model": "v4"})},
    )

    timer.fire_due(now=START + 60)

    assert [payload for _, payload in invoked] == [
        {"endpoint_name": "driftline-credit-drift-monitor", "scheduled_time": "2026-11-23T12:00:00Z"},
        {"model": "v4"},
    ]


def test_disabled_and_deleted_schedules_and_other_targets_do_not_fire(scheduler: Any) -> None:
    _create(scheduler, "disabled", "rate(1 hour)", state="DISABLED")
    _create(scheduler, "queue", "rate(1 hour)", arn="arn:aws:sqs:us-east-1:123456789012:inbox")
    _create(scheduler, "deleted", "rate(1 hour)")
    invoked: list[tuple[str, Any]] = []
    timer = _timer(invoked)
    assert timer.fire_due(now=START) == ["deleted"]  # fired at once, while it existed
    scheduler.delete_schedule(Name="deleted")

    assert timer.fire_due(now=START + 60) == []
    assert [payload["endpoint_name"] for _, payload in invoked] == ["deleted"]


def test_a_cron_schedule_fires_when_its_time_zones_clock_reaches_its_time_unscaled(scheduler: Any) -> None:
    # 08:30 in Paris on Monday 23 November 2026 is 07:30 UTC (CET, UTC+1); START is 12:00 UTC.
    _create(scheduler, "weekday-mornings", "cron(30 8 ? * MON-FRI *)", ScheduleExpressionTimezone="Europe/Paris")
    invoked: list[tuple[str, Any]] = []
    timer = _timer(invoked, seconds_per_minute=0.01)
    next_morning = START + 19.5 * 3600  # Tuesday 07:30 UTC

    fired = [timer.fire_due(now=moment) for moment in (START, START + 3600, next_morning - 1, next_morning + 0.2)]

    assert fired == [[], [], [], ["weekday-mornings"]]
    assert invoked == [
        (FUNCTION_ARN, {"endpoint_name": "weekday-mornings", "scheduled_time": "2026-11-24T07:30:00Z"}),
    ]


def test_a_one_time_schedule_fires_once_at_its_time_and_is_deleted_when_asked(scheduler: Any) -> None:
    _create(scheduler, "kept", "at(2026-11-23T13:00:00)")
    _create(
        scheduler,
        "removed",
        "at(2026-11-23T14:00:00)",
        ScheduleExpressionTimezone="Europe/London",
        ActionAfterCompletion="DELETE",
    )
    invoked: list[tuple[str, Any]] = []
    timer = _timer(invoked)

    fired = [timer.fire_due(now=START + hours * 3600) for hours in (0, 0.5, 1, 1.5, 2, 3)]

    assert fired == [[], [], ["kept"], [], ["removed"], []]
    assert [payload["scheduled_time"] for _, payload in invoked] == ["2026-11-23T13:00:00Z", "2026-11-23T14:00:00Z"]
    assert [entry["Name"] for entry in scheduler.list_schedules()["Schedules"]] == ["kept"]


def test_a_recurring_schedule_fires_only_between_its_start_and_end_dates(scheduler: Any) -> None:
    hour = (int(time.time()) // 3600 + 1) * 3600  # AWS refuses a StartDate in the past
    start = datetime.fromtimestamp(hour + 2 * 3600, tz=UTC)
    end = datetime.fromtimestamp(hour + 4 * 3600, tz=UTC)
    _create(scheduler, "window", "cron(0 * * * ? *)", StartDate=start, EndDate=end, ActionAfterCompletion="DELETE")
    invoked: list[tuple[str, Any]] = []
    timer = _timer(invoked)

    fired = [timer.fire_due(now=hour + hours * 3600) for hours in (0, 1, 2, 3, 4)]

    assert fired == [[], [], ["window"], ["window"], []]
    assert scheduler.list_schedules()["Schedules"] == []  # completed at its EndDate, and deleted as asked


@pytest.mark.parametrize("expression", ["cron(0 12 * * * *)", "at(2026-11-23 13:00:00)", "rate(an hour)"])
def test_create_schedule_refuses_an_expression_aws_refuses_with_aws_wording(scheduler: Any, expression: str) -> None:
    from botocore.exceptions import ClientError

    from driftline.local import scheduler as local_scheduler

    local_scheduler.start("us-east-1", 1.0, Console(io.StringIO()))
    try:
        with pytest.raises(ClientError) as refused:
            _create(scheduler, "refused", expression)
    finally:
        local_scheduler.stop()

    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith(f"Invalid Schedule Expression {expression}.")
