"""How ``driftline logs`` reads a log line, names where it came from, and picks a step."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from driftline.cli_errors import CommandError
from driftline.run_logs import LogLine, select_steps, short_function_name
from driftline.stepfunctions_history import Step

STAMP = int(datetime(2026, 12, 1, 9, 0, 1, 250_000, tzinfo=UTC).timestamp() * 1000)


def test_a_powertools_line_reads_as_its_level_and_message() -> None:
    record = {"level": "INFO", "message": "Upload accepted", "correlation_id": "arn:...:credit-1", "rows": 9}

    assert LogLine(STAMP, "Validate", json.dumps(record)).formatted() == [
        "09:00:01.250 [Validate] INFO    Upload accepted"
    ]


def test_a_logged_exception_follows_its_line_indented() -> None:
    record = {
        "level": "ERROR",
        "message": "Job failed",
        "exception": "Traceback (most recent call last):\n  ...\nKeyError: 'x'",
    }

    assert LogLine(STAMP, "JobEvents", json.dumps(record)).formatted() == [
        "09:00:01.250 [JobEvents] ERROR   Job failed",
        "    Traceback (most recent call last):",
        "      ...",
        "    KeyError: 'x'",
    ]


def test_a_job_s_plain_output_is_shown_as_it_is_and_metric_records_not_at_all() -> None:
    assert LogLine(STAMP, "train job", "validation:auc=0.91").formatted() == [
        "09:00:01.250 [train job] validation:auc=0.91"
    ]
    assert LogLine(STAMP, "Train", json.dumps({"_aws": {}, "JobsStarted": [1.0]})).formatted() == []


@pytest.mark.parametrize(
    ("function", "stack", "short"),
    [
        ("driftline-JobEventsFunction-GGJRZ6N36DLF", "driftline", "JobEvents"),
        ("ml-prod-ValidateFunction-1A2B3C4D5E6F7", "ml-prod", "Validate"),
        ("driftline-notify", "driftline", "notify"),
    ],
)
def test_a_function_is_named_by_its_logical_id(function: str, stack: str, short: str) -> None:
    assert short_function_name(function, stack) == short


def _steps(*names: str) -> list[Step]:
    return [Step(name=name, state_type="Task", entered=datetime(2026, 12, 1, tzinfo=UTC)) for name in names]


@pytest.mark.parametrize("asked", ["QualityGate", "qualitygate", "quality-gate", "quality_gate"])
def test_a_step_is_found_however_its_name_is_written(asked: str) -> None:
    assert [step.name for step in select_steps(_steps("Train", "QualityGate"), asked)] == ["QualityGate"]


def test_every_visit_of_a_step_is_kept() -> None:
    steps = _steps("Deploy", "Deploy", "FinishDeployment")

    assert len(select_steps(steps, "deploy")) == 2


def test_a_step_the_run_has_not_taken_is_refused_naming_those_it_took() -> None:
    with pytest.raises(CommandError, match=r"^the run has no step 'Deploy'; its steps: Validate, Train$"):
        select_steps(_steps("Validate", "Train", "Train"), "Deploy")
