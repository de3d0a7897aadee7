"""How local mode's terminal tells a run's end: one line with where and why, never the interpreter's objects."""

from __future__ import annotations

from typing import Any

from driftline.local.stepfunctions import failed_state, outcome_line

PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-credit/3"


def _entered(name: str) -> dict[str, Any]:
    return {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": name}}


def test_a_failed_run_names_the_state_its_error_and_its_reason_in_one_line() -> None:
    history = [
        _entered("Validate"),
        {"type": "TaskFailed", "taskFailedEventDetails": {"error": "ValidationFailed"}},
        _entered("NotifyFailure"),
        {"type": "TaskSucceeded"},
        {"type": "FailStateEntered", "stateEnteredEventDetails": {"name": "RunFailed"}},
        {"type": "ExecutionFailed"},
    ]
    cause = "Validation failed: data/credit/x.csv: 2 problems\n- column 'age' holds text\n- too few rows."

    line = outcome_line("credit-1", "FAILED", failed_state(history), "ValidationFailed", cause, {})

    assert line == (
        "credit-1: FAILED at Validate (ValidationFailed): Validation failed: data/credit/x.csv: 2 problems "
        "- column 'age' holds text - too few rows."
    )


def test_a_retry_that_succeeded_is_not_where_a_run_failed() -> None:
    history = [
        _entered("Train"),
        {"type": "LambdaFunctionFailed"},
        {"type": "TaskSucceeded"},
        _entered("Evaluate"),
        {"type": "TaskTimedOut"},
        _entered("NotifyFailure"),
    ]

    assert failed_state(history) == "Evaluate"
    assert failed_state([_entered("Validate"), {"type": "ExecutionAborted"}]) is None


def test_a_run_that_deployed_says_which_model_version_serves_on_which_endpoint() -> None:
    output = {"registration": {"model_package_arn": PACKAGE}, "deployment": {"endpoint_name": "driftline-credit"}}

    line = outcome_line("credit-1", "SUCCEEDED", None, None, None, output)

    assert line == "credit-1: SUCCEEDED: model version 3 serving on endpoint driftline-credit"


def test_a_run_the_quality_gate_stopped_says_nothing_was_registered_and_why() -> None:
    gate = {"passed": False, "reasons": ["auc 0.61 is below the threshold 0.7."]}

    line = outcome_line("credit-1", "SUCCEEDED", None, None, None, {"gate": gate})

    assert line == (
        "credit-1: SUCCEEDED: nothing registered, the model did not pass the quality gate: "
        "auc 0.61 is below the threshold 0.7."
    )


def test_a_stopped_run_and_a_long_reason_stay_on_one_short_line() -> None:
    assert outcome_line("credit-1", "ABORTED", "RequestApproval", None, None, {}) == "credit-1: ABORTED (stopped)"
    line = outcome_line("credit-1", "FAILED", "Train", "SageMakerJobFailed", "x\n" * 1000, {})
    assert "\n" not in line and len(line) < 500 and line.endswith("...")
