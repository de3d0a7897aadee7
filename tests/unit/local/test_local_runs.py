"""Following a run: each state is shown as it starts and ends, and the record says how long each took."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from driftline.local.runs import follow

EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:driftline-pipeline:credit-5e4f54c7bade"
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _entered(name: str, at: float) -> dict[str, Any]:
    return {
        "type": "TaskStateEntered",
        "timestamp": START + timedelta(seconds=at),
        "stateEnteredEventDetails": {"name": name},
    }


def _exited(name: str, at: float) -> dict[str, Any]:
    return {
        "type": "TaskStateExited",
        "timestamp": START + timedelta(seconds=at),
        "stateExitedEventDetails": {"name": name},
    }


class FakeStepFunctions:
    """History grows one stage per poll, paged like the real API; the run ends at the last stage."""

    def __init__(self, stages: list[tuple[list[dict[str, Any]], str]], description: dict[str, Any]) -> None:
        self.stages = stages
        self.description = description
        self.stage = 0
        self.page_size = 2

    def get_execution_history(self, *, executionArn: str, maxResults: int, nextToken: str | None = None) -> Any:
        assert executionArn == EXECUTION_ARN
        events = self.stages[self.stage][0]
        start = int(nextToken or 0)
        page: dict[str, Any] = {"events": events[start : start + self.page_size]}
        if start + self.page_size < len(events):
            page["nextToken"] = str(start + self.page_size)
        return page

    def describe_execution(self, *, executionArn: str) -> dict[str, Any]:
        status = self.stages[self.stage][1]
        self.stage = min(self.stage + 1, len(self.stages) - 1)
        return {"executionArn": executionArn, "status": status, **(self.description if status != "RUNNING" else {})}


def test_a_successful_run_shows_each_state_once_and_records_durations() -> None:
    history = [
        {"type": "ExecutionStarted", "timestamp": START},
        _entered("Validate", 0),
        _exited("Validate", 1.5),
        _entered("Train", 2),
        _exited("Train", 14),
        _entered("Register", 15),
        _exited("Register", 15.5),
        {"type": "ExecutionSucceeded", "timestamp": START + timedelta(seconds=16)},
    ]
    sfn = FakeStepFunctions(
        [(history[:4], "RUNNING"), (history, "SUCCEEDED")],
        {"output": json.dumps({"registration": {"model_package_arn": "arn:pkg/1"}})},
    )
    shown: list[str] = []

    record = follow(sfn, EXECUTION_ARN, show=shown.append, timeout=5, poll=0)

    assert shown == [
        "-> Validate",
        "<- Validate (1.5 s)",
        "-> Train",
        "<- Train (12.0 s)",
        "-> Register",
        "<- Register (0.5 s)",
    ]
    assert record.status == "SUCCEEDED"
    assert record.state_seconds == {"Validate": 1.5, "Train": 12.0, "Register": 0.5}
    assert record.transitions == 3
    assert record.output == {"registration": {"model_package_arn": "arn:pkg/1"}}
    assert record.error is None


def test_a_state_entered_twice_adds_up_its_time() -> None:
    history = [
        _entered("WaitForTraining", 0),
        _exited("WaitForTraining", 2),
        _entered("WaitForTraining", 10),
        _exited("WaitForTraining", 13),
    ]
    sfn = FakeStepFunctions([(history, "SUCCEEDED")], {})

    record = follow(sfn, EXECUTION_ARN, show=lambda _: None, timeout=5, poll=0)

    assert record.state_seconds == {"WaitForTraining": 5.0}
    assert record.transitions == 2


def test_a_failed_run_shows_the_task_s_error_and_keeps_the_cause() -> None:
    cause = json.dumps({"errorType": "ValidationFailed", "errorMessage": "Column 'income' should be numeric"})
    history = [
        _entered("Validate", 0),
        {
            "type": "LambdaFunctionFailed",
            "timestamp": START + timedelta(seconds=1),
            "lambdaFunctionFailedEventDetails": {"error": "ValidationFailed", "cause": cause},
        },
        {"type": "ExecutionFailed", "timestamp": START + timedelta(seconds=2)},
    ]
    sfn = FakeStepFunctions([(history, "FAILED")], {"error": "ValidationFailed", "cause": cause})
    shown: list[str] = []

    record = follow(sfn, EXECUTION_ARN, show=shown.append, timeout=5, poll=0)

    assert shown == ["-> Validate", "!! ValidationFailed: Column 'income' should be numeric"]
    assert record.status == "FAILED"
    assert record.error == "ValidationFailed"
    assert record.cause == cause
    assert record.output == {}
