"""Notify under moto: the message an email or queue subscriber actually receives."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from tests.conftest import load_event

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
NOTHING_CHANGED = "Nothing was registered and no endpoint was changed."


@pytest.fixture
def lambda_handler(queue_url: str) -> Handler:
    from functions.notify.app import lambda_handler

    return lambda_handler


def _received(queue_url: str) -> dict[str, Any]:
    """The one SNS envelope delivered to the queue."""
    messages = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    envelope: dict[str, Any] = json.loads(messages[0]["Body"])
    return envelope


def test_a_validation_failure_is_delivered_with_the_validators_own_words(
    lambda_handler: Handler, lambda_context: Any, queue_url: str
) -> None:
    result = lambda_handler(load_event("notify_failed"), lambda_context)

    envelope = _received(queue_url)
    reason = (
        "Column 'income' should be numeric (as in the dataset's schema) but row 17 has 'n/a'. "
        "Fix the file or update data/credit/dataset.json, then upload it again."
    )
    assert envelope["Subject"] == "Driftline: credit run failed at validation"
    assert f"Reason: {reason}" in envelope["Message"]
    assert "errorType" not in envelope["Message"]
    assert envelope["MessageAttributes"]["outcome"] == {"Type": "String", "Value": "failed"}
    assert envelope["MessageAttributes"]["dataset"] == {"Type": "String", "Value": "credit"}
    assert result["error"] == "ValidationFailed"
    assert result["cause"] == f"Validation failed: {reason} {NOTHING_CHANGED}"
    assert result["message_id"] == envelope["MessageId"]


def test_a_training_job_failure_names_the_step_and_the_jobs_reason(
    lambda_handler: Handler, lambda_context: Any, queue_url: str
) -> None:
    event = load_event("notify_failed")
    registered_run = load_event("notify_registered")["run"]
    cause = "Training job credit-5e4f54c7bade-train failed: AlgorithmError: the target column has one class."
    error = {"Error": "SageMakerJobFailed", "Cause": cause}
    event["run"].update(validation=registered_run["validation"], preprocess=registered_run["preprocess"], error=error)
    event["error"] = error

    result = lambda_handler(event, lambda_context)

    envelope = _received(queue_url)
    assert envelope["Subject"] == "Driftline: credit run failed at training"
    assert f"Reason: {cause}" in envelope["Message"]
    assert envelope["Message"].rstrip().splitlines()[-1].startswith("Execution:")
    assert NOTHING_CHANGED in envelope["Message"]
    assert result["error"] == "SageMakerJobFailed"
    assert result["cause"] == f"Training failed: {cause} {NOTHING_CHANGED}"


def test_a_registered_model_is_announced_with_its_package(
    lambda_handler: Handler, lambda_context: Any, queue_url: str
) -> None:
    result = lambda_handler(load_event("notify_registered"), lambda_context)

    envelope = _received(queue_url)
    assert envelope["Subject"] == "Driftline: credit model registered, waiting for approval"
    assert "arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-credit/2" in envelope["Message"]
    assert envelope["MessageAttributes"]["outcome"]["Value"] == "registered"
    assert result["error"] == ""
    assert result["subject"] == envelope["Subject"]


def test_a_rejected_model_is_announced_with_the_gates_reasons(
    lambda_handler: Handler, lambda_context: Any, queue_url: str
) -> None:
    result = lambda_handler(load_event("notify_rejected"), lambda_context)

    envelope = _received(queue_url)
    assert envelope["Subject"] == "Driftline: credit model rejected by the quality gate"
    assert "auc 0.6418 is below the threshold 0.7." in envelope["Message"]
    assert envelope["MessageAttributes"]["outcome"]["Value"] == "rejected"
    assert result["error"] == ""


ARTIFACTS = "driftline-artifacts-123456789012-us-east-1"
PREPROCESSED = "runs/credit-5e4f54c7bade/preprocess"


def _deployed_event() -> dict[str, Any]:
    event = load_event("notify_registered")
    event["outcome"] = "deployed"
    event["run"]["deployment"] = {
        "endpoint_name": "driftline-credit",
        "endpoint_arn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/driftline-credit",
        "endpoint_config_name": "driftline-credit-v2",
        "model_name": "driftline-credit-v2",
        "model_package_arn": event["run"]["registration"]["model_package_arn"],
        "action": "updated",
        "endpoint_type": "Provisioned",
    }
    return event


def test_the_deployed_email_names_the_feature_columns_in_order_with_a_row_a_client_can_send(
    lambda_handler: Handler, lambda_context: Any, queue_url: str
) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=ARTIFACTS)
    features = ["income", "age", "purpose"]
    s3.put_object(
        Bucket=ARTIFACTS,
        Key=f"{PREPROCESSED}/metadata/preprocessing.json",
        Body=json.dumps({"target": "default", "feature_columns": features}),
    )
    # The split's file keeps the upload's values; its first row is the example, its columns in the model's order.
    test_rows = 'income,age,purpose\n"52,000",41,car\n18000,,education\n' + "31000,29,home\n" * 20000
    s3.put_object(Bucket=ARTIFACTS, Key=f"{PREPROCESSED}/test/test_features.csv", Body=test_rows.encode())

    lambda_handler(_deployed_event(), lambda_context)

    message = _received(queue_url)["Message"]
    assert "Invoke it with CSV rows of its 3 feature columns, in this order, no target, no header:\n" in message
    assert "\n  income, age, purpose\n" in message
    assert 'For example, the first row of this run\'s test split:\n  "52,000",41,car\n' in message
    assert "--cli-binary-format raw-in-base64-out --body '\"52,000\",41,car' answer.csv" in message
    assert "AWS CLI v1:\n  aws sagemaker-runtime invoke-endpoint --endpoint-name driftline-credit" in message
    assert "--body fileb://row.csv answer.csv" in message
    assert 'Body="\\"52,000\\",41,car"' in message


def test_the_deployed_email_still_goes_out_when_the_runs_preprocessing_output_is_gone(
    lambda_handler: Handler, lambda_context: Any, queue_url: str
) -> None:
    boto3.client("s3").create_bucket(Bucket=ARTIFACTS)

    result = lambda_handler(_deployed_event(), lambda_context)

    message = _received(queue_url)["Message"]
    assert result["subject"] == "Driftline: credit model deployed"
    assert "in the order of the model's feature_columns (model_metadata.json in its model.tar.gz)" in message
    assert "--body '<feature values, comma-separated>' answer.csv" in message


def test_a_started_trial_is_announced_and_counted(
    lambda_handler: Handler, lambda_context: Any, queue_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.unit.test_trial_deployment import deployment

    run = load_event("deploy") | {"deployment": deployment("trial", "driftline-credit--trial-v2")}
    event = {"outcome": "trial_started", "execution_id": "arn:x", "execution_name": "credit-2", "run": run}

    result = lambda_handler(event, lambda_context)

    envelope = _received(queue_url)
    assert envelope["Subject"] == "Driftline: credit A/B trial of model version 2 started"
    assert envelope["MessageAttributes"]["outcome"]["Value"] == "trial_started"
    assert result["error"] == ""
    assert '"TrialsStarted"' in capsys.readouterr().out


def test_every_outcome_notify_can_be_asked_for_has_its_metric() -> None:
    from typing import get_args

    from driftline_core.payloads import RunOutcome
    from functions.notify.app import _OUTCOME_METRICS

    assert set(get_args(RunOutcome)) == set(_OUTCOME_METRICS)
