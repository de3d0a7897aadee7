"""What subscribers read when a run ends: subjects, bodies and the one-line cause for each outcome."""

from __future__ import annotations

import json
from typing import Any

import pytest

from driftline_core.notifications.messages import (
    NOTHING_CHANGED,
    RunDocument,
    build_notification,
    failed_step,
    readable_cause,
)
from driftline_core.payloads import NotifyInput, StepError
from tests.conftest import load_event

VALIDATION_MESSAGE = (
    "Column 'income' should be numeric (as in the dataset's schema) but row 17 has 'n/a'. "
    "Fix the file or update data/credit/dataset.json, then upload it again."
)


def _notify(name: str) -> NotifyInput:
    return NotifyInput.model_validate(load_event(name))


def _failed_at(step_results: list[str], error: dict[str, str]) -> NotifyInput:
    """A failure notification whose run document holds the results of the given steps."""
    registered = load_event("notify_registered")
    run: dict[str, Any] = {key: registered["run"][key] for key in ("dataset", "data", "trigger")}
    run.update({key: registered["run"][key] for key in step_results})
    run["error"] = error
    return NotifyInput.model_validate(
        {
            "outcome": "failed",
            "execution_id": registered["execution_id"],
            "execution_name": registered["execution_name"],
            "run": run,
            "error": error,
        }
    )


@pytest.mark.parametrize("name", ["notify_registered", "notify_rejected", "notify_failed"])
def test_sample_events_parse_and_give_an_ascii_subject_under_100_characters(name: str) -> None:
    notification = build_notification(_notify(name))

    assert notification.subject.isascii()
    assert len(notification.subject) < 100
    assert "\n" not in notification.subject
    event = load_event(name)
    assert notification.attributes == {"outcome": event["outcome"], "dataset": "credit", "run": event["execution_name"]}


def test_registered_message_reports_data_metric_incumbent_package_and_artifacts() -> None:
    notification = build_notification(_notify("notify_registered"))
    body = notification.message

    assert notification.subject == "Driftline: credit model registered, waiting for approval"
    assert "Dataset:         credit" in body
    assert (
        "s3://driftline-data-123456789012-us-east-1/data/credit/applications-2026-11.csv "
        "(version IYV3p45BT0ac8hjHg1houSdS1a.Mro8e)" in body
    )
    assert "auc = 0.9132 (threshold 0.7000, higher is better)" in body
    incumbent_arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-credit/1"
    assert f"Approved model:  auc = 0.8874 ({incumbent_arn})" in body
    assert "Compared on:     this run's test split, both models scored on the same rows" in body
    assert "Model package:   arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-credit/2" in body
    assert "/output/model.tar.gz" in body
    assert "/evaluate/evaluation/evaluation.json" in body
    assert "/config.json" in body
    assert "--model-approval-status Approved" in body
    assert notification.error == ""
    assert notification.cause == (
        "The credit model was registered as version 2 in driftline-credit and is waiting for approval."
    )


def test_rejected_message_gives_the_gates_reasons_and_registers_nothing() -> None:
    notification = build_notification(_notify("notify_rejected"))

    assert notification.subject == "Driftline: credit model rejected by the quality gate"
    assert "  - auc 0.6418 is below the threshold 0.7." in notification.message
    assert "nothing was registered" in notification.message
    assert "Approved model:  none approved yet" in notification.message
    assert "Model package" not in notification.message
    assert notification.error == ""
    assert notification.cause == "The credit model was not registered: auc 0.6418 is below the threshold 0.7."


def test_validation_failure_reads_the_lambda_error_message_not_its_json() -> None:
    notification = build_notification(_notify("notify_failed"))

    assert notification.subject == "Driftline: credit run failed at validation"
    assert notification.error == "ValidationFailed"
    assert notification.cause == f"Validation failed: {VALIDATION_MESSAGE} {NOTHING_CHANGED}"
    assert f"Reason: {VALIDATION_MESSAGE}" in notification.message
    assert "stackTrace" not in notification.message
    assert notification.message.count(NOTHING_CHANGED) == 1


def test_training_job_failure_keeps_its_plain_text_cause() -> None:
    cause = "Training job credit-5e4f54c7bade-train failed: AlgorithmError: target column has one class."
    notify = _failed_at(["validation", "preprocess"], {"Error": "SageMakerJobFailed", "Cause": cause})

    notification = build_notification(notify)

    assert notification.subject == "Driftline: credit run failed at training"
    assert notification.error == "SageMakerJobFailed"
    assert notification.cause == f"Training failed: {cause} {NOTHING_CHANGED}"


def test_a_job_that_never_reports_back_is_described_as_a_timeout() -> None:
    notify = _failed_at(["validation"], {"Error": "States.Timeout", "Cause": ""})

    notification = build_notification(notify)

    assert notification.error == "JobTimedOut"
    assert "The preprocessing job did not report back in time" in notification.cause
    assert notification.cause.endswith(NOTHING_CHANGED)


def test_a_registration_failure_does_not_claim_nothing_was_registered() -> None:
    cause = json.dumps({"errorMessage": "Access denied to CreateModelPackage.", "errorType": "ClientError"})
    notify = _failed_at(
        ["validation", "preprocess", "training", "evaluation", "gate"],
        {"Error": "ClientError", "Cause": cause},
    )

    notification = build_notification(notify)

    assert notification.cause == "Registration failed: Access denied to CreateModelPackage. No endpoint was changed."
    assert NOTHING_CHANGED not in notification.message


@pytest.mark.parametrize(
    ("present", "expected"),
    [
        ([], "validation"),
        (["validation"], "preprocessing"),
        (["validation", "preprocess"], "training"),
        (["validation", "preprocess", "training"], "evaluation"),
        (["validation", "preprocess", "training", "evaluation"], "the quality gate"),
        (["validation", "preprocess", "training", "evaluation", "gate"], "registration"),
    ],
)
def test_the_failed_step_is_the_first_without_a_result(present: list[str], expected: str) -> None:
    run = load_event("notify_registered")["run"]

    assert failed_step(RunDocument.model_validate({key: run[key] for key in present})) == expected


@pytest.mark.parametrize(
    ("cause", "expected"),
    [
        ('{"errorMessage": "The file is empty.", "errorType": "ValidationFailed"}', "The file is empty."),
        ('{"not": "a lambda error"}', '{"not": "a lambda error"}'),
        ("{broken json", "{broken json"),
        ("  Job stopped by the user.  ", "Job stopped by the user."),
    ],
)
def test_readable_cause_prefers_error_message_and_falls_back_to_the_text(cause: str, expected: str) -> None:
    assert readable_cause(StepError(Error="SomeError", Cause=cause), "training") == expected


def test_a_job_failure_without_a_cause_still_says_where_to_look() -> None:
    reason = readable_cause(StepError(Error="SageMakerJobFailed", Cause=None), "evaluation")

    assert reason == "The evaluation job failed without giving a reason; its CloudWatch logs have the details."


def test_odd_and_long_dataset_names_still_give_a_valid_subject() -> None:
    event = load_event("notify_failed")
    event["run"]["dataset"] = "kredit-\u00fcbersicht-" + "x" * 120 + "\nBcc: someone"
    notification = build_notification(NotifyInput.model_validate(event))

    assert notification.subject.isascii()
    assert len(notification.subject) < 100
    assert "\n" not in notification.subject
    assert notification.subject.startswith("Driftline: kredit-?bersicht-")
    assert notification.subject.endswith("run failed at validation")


def test_fail_state_error_names_never_use_the_reserved_states_prefix() -> None:
    from driftline_core.notifications.messages import fail_state_error_name

    assert fail_state_error_name("States.Timeout") == "JobTimedOut"
    assert fail_state_error_name("States.Runtime") == "PipelineError"
    assert fail_state_error_name("ValidationFailed") == "ValidationFailed"


def test_registered_message_says_why_the_approved_model_was_not_compared_and_which_package() -> None:
    notify = _notify("notify_registered")
    incumbent = "arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-credit/1"
    why = (
        f"The approved model {incumbent} was not compared: its evaluation report "
        "s3://driftline-artifacts-old/runs/credit-1/evaluate/evaluation/evaluation.json cannot be read "
        "(AccessDenied). The threshold alone decides."
    )
    notify.run["gate"].update(
        incumbent_model_package_arn=incumbent,
        incumbent_value=None,
        reasons=["auc 0.9132 meets the threshold 0.7 (higher is better).", why],
    )

    body = build_notification(notify).message

    assert f"Approved model:  {incumbent}, not compared (see the gate's reasons)" in body
    assert "Compared on:" not in body
    assert f"Quality gate:\n  - auc 0.9132 meets the threshold 0.7 (higher is better).\n  - {why}\n" in body
    assert "none approved yet" not in body


SERVING = "arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-credit/1"
DRIFT_REPORT = (
    "s3://driftline-artifacts-123456789012-us-east-1/runs/credit-5e4f54c7bade/evaluate/evaluation/data_drift.html"
)
DRIFTED = {
    "compared": True,
    "model_package_arn": SERVING,
    "baseline_uri": "s3://driftline-artifacts-123456789012-us-east-1/runs/credit-0a1b2c3d4e5f/baseline/",
    "report_uri": DRIFT_REPORT,
    "rows_compared": 2550,
    "features": 12,
    "drifted_count": 2,
    "drifted_features": [
        {"name": "income", "distance": 0.31, "threshold": 0.1},
        {"name": "plan", "distance": 0.22, "threshold": 0.1},
    ],
}


def _with_data_drift(name: str, data_drift: dict[str, Any]) -> NotifyInput:
    event = load_event(name)
    event["run"]["gate"]["data_drift"] = data_drift
    return NotifyInput.model_validate(event)


def test_the_registered_email_names_the_features_drifted_from_the_serving_models_baseline_and_the_report() -> None:
    body = build_notification(_with_data_drift("notify_registered", DRIFTED)).message

    assert (
        f"Data drift:\n  Compared with the serving model's baseline ({SERVING}): drift in 2 of 12 features: "
        f"income 0.31 > 0.1, plan 0.22 > 0.1; 2550 rows of this upload compared; report: {DRIFT_REPORT}\n" in body
    )


def test_the_rejected_email_says_the_data_did_not_drift_from_the_serving_models_baseline() -> None:
    same = {**DRIFTED, "drifted_count": 0, "drifted_features": [], "missing_columns": ["age"]}
    body = build_notification(_with_data_drift("notify_rejected", same)).message

    assert (
        f"Compared with the serving model's baseline ({SERVING}): no drift in 12 features; columns the baseline "
        "has and this data lacks: age; 2550 rows of this upload compared" in body
    )


def test_an_email_says_why_the_data_was_not_compared_with_a_baseline() -> None:
    why = {"compared": False, "reason": "no model of this dataset is approved yet"}
    body = build_notification(_with_data_drift("notify_rejected", why)).message

    assert (
        "Data drift:\n  Not compared with the serving model's baseline: no model of this dataset is approved yet.\n"
        in body
    )


def test_a_drifted_feature_judged_with_the_robust_margin_shows_its_bar_and_further_features_are_counted() -> None:
    many = {
        **DRIFTED,
        "drifted_count": 7,
        "drifted_features": [{"name": "income", "distance": 0.36, "threshold": 0.1, "margin": 0.05}],
    }
    body = build_notification(_with_data_drift("notify_registered", many)).message

    assert "drift in 7 of 12 features: income 0.36 > 0.1 + 0.05 and 6 more (distance > threshold + the Robust" in body


def test_an_email_of_a_run_whose_gate_predates_the_comparison_has_no_data_drift_block() -> None:
    assert "Data drift" not in build_notification(_notify("notify_registered")).message
