"""The drift monitor's schedule: the ``rate()`` expression's interval, and Driftline's EventBridge Scheduler
schedule of an endpoint (its Input is what StartMonitoring receives at each firing)."""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from driftline_core.aws.clients import get_client
from driftline_core.aws.error_codes import is_not_found
from driftline_core.layout import SCHEDULE_GROUP, schedule_name
from driftline_core.payloads import MonitoringRequest
from driftline_core.settings import MonitoringSettings

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_MINUTES_PER_UNIT = {"minute": 1, "minutes": 1, "hour": 60, "hours": 60, "day": 1440, "days": 1440}


def rate_minutes(expression: str) -> int | None:
    match = _RATE.match(expression.strip())
    return int(match.group(1)) * _MINUTES_PER_UNIT[match.group(2)] if match else None


def alarm_period_seconds(expression: str) -> int:
    """The drift alarm's period: one schedule interval (an hour for ``cron`` schedules), within CloudWatch's
    limits (a multiple of 60 seconds, at most a day)."""
    minutes = rate_minutes(expression) or 60
    return min(max(minutes, 1), 1440) * 60


def build_schedule_request(request: MonitoringRequest, monitoring: MonitoringSettings) -> dict[str, Any]:
    """CreateSchedule / UpdateSchedule: the schedule fires at its time (no flexible window) with the Input."""
    return {
        "Name": request.schedule_name,
        "GroupName": SCHEDULE_GROUP,
        "Description": (
            f"Drift monitor of endpoint {request.endpoint_name} (dataset {request.dataset}): starts a monitoring "
            "job over the last window of captured requests."
        )[:512],
        "ScheduleExpression": monitoring.monitoring_schedule_expression,
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "State": "ENABLED",
        "Target": {
            "Arn": monitoring.monitoring_function_arn,
            "RoleArn": monitoring.monitoring_scheduler_role_arn,
            "Input": request.model_dump_json(),
            # A window missed for an hour is better skipped than analysed late next to the next one.
            "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 3},
        },
    }


def put_scheduler_schedule(request: MonitoringRequest, monitoring: MonitoringSettings) -> None:
    """Create the endpoint's schedule, or update it to the newly served model's Input."""
    schedule = build_schedule_request(request, monitoring)
    scheduler = get_client("scheduler")
    try:
        scheduler.update_schedule(**schedule)
    except ClientError as error:
        if not is_not_found(error):
            raise
        scheduler.create_schedule(**schedule)


def delete_scheduler_schedule(endpoint: str, *, stack: str) -> None:
    """Driftline's schedule of the endpoint; one already gone is fine."""
    try:
        get_client("scheduler").delete_schedule(Name=schedule_name(endpoint, stack=stack), GroupName=SCHEDULE_GROUP)
    except ClientError as error:
        if not is_not_found(error):
            raise
