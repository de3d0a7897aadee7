"""The approver's email for a model retrained on drift says why, which features drifted by how much, and on what."""

from __future__ import annotations

from typing import Any

from driftline_core.notifications.messages import DriftlineCommand, MetricComparison, approval_request
from driftline_core.payloads import ApprovalRequestInput
from tests.conftest import load_event

COMPARISON = MetricComparison(
    rows=[("auc", 0.91, 0.88)],
    test_rows=200,
    approved_model="arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-credit/1",
    compared=True,
)
REPORT = "s3://driftline-artifacts-123456789012-us-east-1/drift/credit/reports/2026/11/02/10/drift_report.html"


def _email(trigger: dict[str, Any] | None = None) -> str:
    event = load_event("request_approval")
    if trigger is not None:
        event["trigger"] = trigger
    step = ApprovalRequestInput.model_validate(event)
    notification = approval_request(
        step,
        approve_url="https://example.test/approve",
        reject_url="https://example.test/reject",
        expires_at="2026-11-05T10:00:00Z",
        comparison=COMPARISON,
        command=DriftlineCommand(stack_name="driftline", region="us-east-1"),
    )
    return notification.message


def test_a_drift_retrain_email_says_why_which_features_drifted_by_how_much_and_the_report() -> None:
    retrain = "s3://driftline-artifacts-123456789012-us-east-1/runs/credit-drift/retrain.json"
    message = _email(
        {
            "source": "drift",
            "alarm_name": "driftline-drift-credit",
            "drifted_features": [
                {"name": "income", "distance": 0.41234, "threshold": 0.1},
                {"name": "age", "distance": 0.2, "threshold": 0.1},
            ],
            "report_uri": REPORT,
            "retrain_uri": retrain,
        }
    )

    assert (
        "Why retrained:   the drift monitor found the serving model's inputs drifting (alarm driftline-drift-credit).\n"
        "Drifted features:\n"
        "  income: distance 0.4123 (threshold 0.1000)\n"
        "  age: distance 0.2000 (threshold 0.1000)\n"
        f"Drift report:    {REPORT}\n"
    ) in message
    assert f"Trained on:\n  every upload of the labelled data window listed in {retrain}, the newest being\n" in message


def test_an_upload_run_s_email_has_no_retrain_section() -> None:
    message = _email()

    assert "Why retrained" not in message and "Drifted features" not in message
    assert "labelled data window" not in message


def test_the_approval_email_says_how_the_data_differs_from_the_serving_models_baseline() -> None:
    event = load_event("request_approval")
    serving = "arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-credit/1"
    event["gate"]["data_drift"] = {
        "compared": True,
        "model_package_arn": serving,
        "report_uri": "s3://bucket/runs/r/evaluate/evaluation/data_drift.html",
        "features": 12,
        "drifted_count": 1,
        "drifted_features": [{"name": "income", "distance": 0.31, "threshold": 0.1}],
    }
    step = ApprovalRequestInput.model_validate(event)
    message = approval_request(
        step,
        approve_url="https://example.test/approve",
        reject_url="https://example.test/reject",
        expires_at="2026-11-05T10:00:00Z",
        comparison=COMPARISON,
        command=DriftlineCommand(stack_name="driftline", region="us-east-1"),
    ).message

    assert (
        f"Data drift:\n  Compared with the serving model's baseline ({serving}): drift in 1 of 12 features: "
        "income 0.31 > 0.1; report: s3://bucket/runs/r/evaluate/evaluation/data_drift.html\n" in message
    )
