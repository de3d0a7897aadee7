"""Local EventBridge Scheduler: rate(...) schedules fire their Lambda target with the Input, context filled in."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
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


def _create(client: Any, name: str, expression: str, *, state: str = "ENABLED", arn: str = FUNCTION_ARN) -> None:
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
    )


def _timer(invoked: list[tuple[str, Any]], seconds_per_minute: float = 1.0) -> SchedulerTimer:
    return SchedulerTimer(
        "us-east-1",
        seconds_per_minute,
        Console(io.StringIO()),
        invoke=lambda arn, payload, region: invoked.append((arn, payload)),
    )


def test_an_hourly_schedule_invokes_its_lambda_once_per_scaled_hour_with_the_scheduled_time(scheduler: Any) -> None:
    _create(scheduler, "driftline-credit-drift-monitor", "rate(1 hour)")
    invoked: list[tuple[str, Any]] = []
    timer = _timer(invoked)

    fired = [timer.fire_due(now=START + offset) for offset in (0.0, 59.9, 60.0, 119.0, 120.0)]

    assert fired == [[], [], ["driftline-credit-drift-monitor"], [], ["driftline-credit-drift-monitor"]]
    assert invoked == [
        (FUNCTION_ARN, {"endpoint_name": "driftline-credit-drift-monitor", "scheduled_time": "2026-11-23T12:01:00Z"}),
        (FUNCTION_ARN, {"endpoint_name": "driftline-credit-drift-monitor", "scheduled_time": "2026-11-23T12:02:00Z"}),
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

    assert invoked == [(FUNCTION_ARN, {"model": "v4"})]


def test_disabled_cron_and_deleted_schedules_and_other_targets_do_not_fire(scheduler: Any) -> None:
    _create(scheduler, "disabled", "rate(1 hour)", state="DISABLED")
    _create(scheduler, "cron", "cron(0 * * * ? *)")
    _create(scheduler, "queue", "rate(1 hour)", arn="arn:aws:sqs:us-east-1:123456789012:inbox")
    _create(scheduler, "deleted", "rate(1 hour)")
    invoked: list[tuple[str, Any]] = []
    timer = _timer(invoked)
    timer.fire_due(now=START)
    scheduler.delete_schedule(Name="deleted")

    assert timer.fire_due(now=START + 60) == []
    assert invoked == []
