"""Local Model Monitor's schedules: which of Model Monitor's schedule expressions have an interval in hours."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("expression", "hours"),
    [("cron(0 * ? * * *)", 1), ("cron(0 12 ? * * *)", 24), ("cron(0 0/6 ? * * *)", 6), ("rate(1 hour)", None)],
)
def test_only_model_monitors_cron_forms_have_an_interval(expression: str, hours: int | None) -> None:
    from driftline.local.model_monitor import schedule_interval_hours

    assert schedule_interval_hours(expression) == hours
