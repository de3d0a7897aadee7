"""MonitoringScheduleExpression in the cron forms Model Monitor accepts, or a refusal that says what to use."""

from __future__ import annotations

import pytest

from driftline_core.drift.model_monitor import model_monitor_schedule
from driftline_core.errors import UnsupportedMonitorSchedule


@pytest.mark.parametrize(
    ("expression", "cron", "hours"),
    [
        ("rate(1 hour)", "cron(0 * ? * * *)", 1),
        ("rate(60 minutes)", "cron(0 * ? * * *)", 1),
        ("rate(6 hours)", "cron(0 0/6 ? * * *)", 6),
        ("rate(1 day)", "cron(0 0 ? * * *)", 24),
        ("rate(24 hours)", "cron(0 0 ? * * *)", 24),
        ("cron(0 * ? * * *)", "cron(0 * ? * * *)", 1),
        ("cron(0 12 ? * * *)", "cron(0 12 ? * * *)", 24),
        ("cron(0 17/12 ? * * *)", "cron(0 17/12 ? * * *)", 12),
    ],
)
def test_hourly_every_n_hours_and_daily_schedules_become_model_monitors_cron(
    expression: str, cron: str, hours: int
) -> None:
    schedule = model_monitor_schedule(expression)

    assert (schedule.expression, schedule.interval_hours) == (cron, hours)


@pytest.mark.parametrize(
    "expression",
    ["rate(15 minutes)", "rate(5 hours)", "rate(2 days)", "cron(30 * ? * * *)", "cron(0 9 ? * MON-FRI *)", "at(x)"],
)
def test_schedules_model_monitor_cannot_run_are_refused_naming_what_it_can_run(expression: str) -> None:
    with pytest.raises(UnsupportedMonitorSchedule) as refused:
        model_monitor_schedule(expression)

    message = str(refused.value)
    assert expression in message
    assert "rate(1 hour)" in message and "DriftMonitor=Driftline" in message
