"""The QualityGate handler under moto: run config and reports in S3, approved models in the registry."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from driftline_core.errors import EvaluationReportInvalid
from driftline_core.layout import split_s3_uri
from driftline_core.models import GateInput
from tests.conftest import load_event

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

EVENT = load_event("quality_gate")
ARTIFACT_BUCKET, CONFIG_KEY = split_s3_uri(EVENT["validation"]["config_uri"])
EVALUATION_PREFIX = EVENT["evaluation"]["outputs"]["evaluation"]
EVALUATION_URI = EVALUATION_PREFIX + "evaluation.json"
GROUP = "driftline-credit"


def run_config(problem_type: str = "binary_classification", **overrides: Any) -> dict[str, Any]:
    """A run config as Validate writes it."""
    config: dict[str, Any] = {
        "dataset": "credit",
        "target": "default",
        "problem_type": problem_type,
        "metric": "auc",
        "threshold": 0.7,
        "higher_is_better": True,
        "hyperparameters": {},
        "columns": [{"name": "age", "type": "numeric"}, {"name": "default", "type": "numeric"}],
        "feature_columns": ["age"],
        "data_uri": EVENT["data"]["uri"],
        "data_version_id": EVENT["data"]["version_id"],
        "rows": 1000,
        "seed": 42,
        "split": {"train": 0.7, "validation": 0.15, "test": 0.15},
    }
    config.update(overrides)
    return config


def binary_report(auc: float) -> dict[str, Any]:
    scores = {"auc": auc, "accuracy": 0.8, "precision": 0.78, "recall": 0.74, "f1": 0.76}
    return {
        "binary_classification_metrics": {
            name: {"value": value, "standard_deviation": "NaN"} for name, value in scores.items()
        },
        "driftline": {"problem_type": "binary_classification", "metric": "auc", "test_rows": 150},
    }


def regression_report(rmse: float) -> dict[str, Any]:
    scores = {"mse": rmse**2, "rmse": rmse, "mae": rmse * 0.8, "r2": 0.7}
    return {
        "regression_metrics": {name: {"value": value, "standard_deviation": "NaN"} for name, value in scores.items()}
    }


@pytest.fixture
def s3(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    from driftline_core.settings import reset_settings

    client = boto3.client("s3")
    client.create_bucket(Bucket=ARTIFACT_BUCKET)
    monkeypatch.setenv("ARTIFACT_BUCKET", ARTIFACT_BUCKET)
    monkeypatch.setenv("MODEL_PACKAGE_GROUP_PREFIX", "driftline")
    reset_settings()
    return client


@pytest.fixture
def handler(s3: Any) -> Handler:
    """Imported once the environment is set: Powertools reads its namespace when the module loads."""
    from functions.quality_gate.app import lambda_handler

    return lambda_handler


def put_json(s3: Any, uri: str, document: Any) -> None:
    bucket, key = split_s3_uri(uri)
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(document).encode())


def given_run(s3: Any, config: dict[str, Any], report: dict[str, Any]) -> None:
    put_json(s3, EVENT["validation"]["config_uri"], config)
    put_json(s3, EVALUATION_URI, report)


def register_model(s3: Any, report: dict[str, Any] | None, status: str = "Approved", version: int = 1) -> str:
    """A model package in the dataset's group, with its evaluation report as model-quality statistics."""
    sagemaker = boto3.client("sagemaker")
    if not sagemaker.list_model_package_groups(NameContains=GROUP)["ModelPackageGroupSummaryList"]:
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    request: dict[str, Any] = {
        "ModelPackageGroupName": GROUP,
        "ModelApprovalStatus": status,
        "InferenceSpecification": {
            "Containers": [{"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sklearn:1.2-1"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    }
    if report is not None:
        uri = f"s3://{ARTIFACT_BUCKET}/runs/credit-old{version}/evaluate/evaluation/evaluation.json"
        put_json(s3, uri, report)
        request["ModelMetrics"] = {"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": uri}}}
    arn: str = sagemaker.create_model_package(**request)["ModelPackageArn"]
    return arn


def test_the_sample_event_is_a_gate_input() -> None:
    event = GateInput.model_validate(EVENT)
    assert event.evaluation.outputs["evaluation"].endswith("/evaluation/")


def test_the_first_model_passes_on_the_threshold(
    s3: Any, handler: Handler, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    given_run(s3, run_config(), binary_report(auc=0.84))
    result = handler(EVENT, lambda_context)
    assert result == {
        "passed": True,
        "metric": "auc",
        "value": 0.84,
        "threshold": 0.7,
        "higher_is_better": True,
        "incumbent_model_package_arn": None,
        "incumbent_value": None,
        "evaluation_uri": EVALUATION_URI,
        "reasons": [
            "auc 0.84 meets the threshold 0.7 (higher is better).",
            "No model of this dataset is approved yet, so the threshold alone decides.",
        ],
    }
    assert '"GatePassed":[1.0]' in capsys.readouterr().out.replace(" ", "")


def test_a_model_below_the_threshold_fails(
    s3: Any, handler: Handler, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    given_run(s3, run_config(threshold=0.8), binary_report(auc=0.74))
    result = handler(EVENT, lambda_context)
    assert not result["passed"]
    assert result["reasons"][0].startswith("auc 0.74 is below the threshold 0.8")
    assert '"GatePassed":[0.0]' in capsys.readouterr().out.replace(" ", "")


def test_a_model_worse_than_the_approved_one_fails(s3: Any, handler: Handler, lambda_context: Any) -> None:
    approved = register_model(s3, binary_report(auc=0.9))
    given_run(s3, run_config(), binary_report(auc=0.86))
    result = handler(EVENT, lambda_context)
    assert not result["passed"]
    assert (result["incumbent_model_package_arn"], result["incumbent_value"]) == (approved, 0.9)
    assert result["reasons"][1] == (
        f"auc 0.86 is no better than the approved model {approved} (0.9): the candidate must be strictly better."
    )


def test_a_model_better_than_the_approved_one_passes(s3: Any, handler: Handler, lambda_context: Any) -> None:
    approved = register_model(s3, binary_report(auc=0.78))
    given_run(s3, run_config(), binary_report(auc=0.86))
    result = handler(EVENT, lambda_context)
    assert result["passed"]
    assert (result["incumbent_model_package_arn"], result["incumbent_value"]) == (approved, 0.78)
    assert "beats the approved model" in result["reasons"][1]


def test_only_approved_models_are_compared_with(s3: Any, handler: Handler, lambda_context: Any) -> None:
    register_model(s3, binary_report(auc=0.99), status="PendingManualApproval")
    register_model(s3, binary_report(auc=0.97), status="Rejected", version=2)
    given_run(s3, run_config(), binary_report(auc=0.8))
    result = handler(EVENT, lambda_context)
    assert result["passed"]
    assert result["incumbent_model_package_arn"] is None


def test_the_required_improvement_comes_from_the_settings(
    s3: Any, handler: Handler, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftline_core.settings import reset_settings

    monkeypatch.setenv("MIN_IMPROVEMENT", "0.05")
    reset_settings()
    register_model(s3, binary_report(auc=0.8))
    given_run(s3, run_config(), binary_report(auc=0.83))
    result = handler(EVENT, lambda_context)
    assert not result["passed"]
    assert "more than the required 0.05" in result["reasons"][1]


def test_an_approved_model_without_a_report_leaves_the_threshold_to_decide(
    s3: Any, handler: Handler, lambda_context: Any
) -> None:
    approved = register_model(s3, None)
    given_run(s3, run_config(), binary_report(auc=0.75))
    result = handler(EVENT, lambda_context)
    assert result["passed"]
    assert (result["incumbent_model_package_arn"], result["incumbent_value"]) == (approved, None)


def test_a_lower_is_better_metric_passes_below_the_threshold_and_the_approved_model(
    s3: Any, handler: Handler, lambda_context: Any
) -> None:
    config = run_config("regression", metric="rmse", threshold=5.0, higher_is_better=False)
    approved = register_model(s3, regression_report(rmse=4.1))
    given_run(s3, config, regression_report(rmse=3.6))
    result = handler(EVENT, lambda_context)
    assert result["passed"]
    assert (result["value"], result["higher_is_better"], result["incumbent_value"]) == (3.6, False, 4.1)
    assert result["reasons"][0] == "rmse 3.6 meets the threshold 5 (lower is better)."
    assert approved in result["reasons"][1]


def test_a_lower_is_better_metric_fails_above_the_approved_model(
    s3: Any, handler: Handler, lambda_context: Any
) -> None:
    config = run_config("regression", metric="rmse", threshold=5.0, higher_is_better=False)
    register_model(s3, regression_report(rmse=3.1))
    given_run(s3, config, regression_report(rmse=3.6))
    result = handler(EVENT, lambda_context)
    assert not result["passed"]
    assert result["reasons"][1].startswith("rmse 3.6 is no better than the approved model")


NO_METRIC_ON_ERROR = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@NO_METRIC_ON_ERROR
def test_a_missing_evaluation_report_is_an_error(s3: Any, handler: Handler, lambda_context: Any) -> None:
    put_json(s3, EVENT["validation"]["config_uri"], run_config())
    with pytest.raises(EvaluationReportInvalid) as caught:
        handler(EVENT, lambda_context)
    assert str(caught.value) == (
        f"there is no evaluation report at {EVALUATION_URI}; "
        "evaluation job credit-aac94d3f8f5c-evaluate did not write evaluation.json."
    )


@NO_METRIC_ON_ERROR
def test_a_report_without_the_gate_metric_is_an_error(s3: Any, handler: Handler, lambda_context: Any) -> None:
    report = binary_report(auc=0.9)
    del report["binary_classification_metrics"]["auc"]
    given_run(s3, run_config(), report)
    with pytest.raises(EvaluationReportInvalid) as caught:
        handler(EVENT, lambda_context)
    assert str(caught.value) == (
        f"{EVALUATION_URI}: the evaluation report's 'binary_classification_metrics' has no 'auc' "
        "(it has: accuracy, f1, precision, recall)."
    )


OLD_BUCKET = "driftline-artifacts-of-an-earlier-deployment"


def register_model_with_report_at(s3: Any, uri: str, report: dict[str, Any]) -> str:
    """An approved package whose report lives at ``uri`` (a bucket the stack may no longer read)."""
    bucket, _ = split_s3_uri(uri)
    s3.create_bucket(Bucket=bucket)
    put_json(s3, uri, report)
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    request: dict[str, Any] = {
        "ModelPackageGroupName": GROUP,
        "ModelApprovalStatus": "Approved",
        "InferenceSpecification": {
            "Containers": [{"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sklearn:1.2-1"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        "ModelMetrics": {"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": uri}}},
    }
    created: str = sagemaker.create_model_package(**request)["ModelPackageArn"]
    return created


def deny_reads_from(bucket: str) -> None:
    """S3 answers 403 AccessDenied to GetObject in ``bucket``, as for a bucket the function's role cannot read."""
    from botocore.awsrequest import AWSResponse, HTTPHeaders

    from driftline_core.clients import get_client

    def refuse(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if params.get("url_path", "").lstrip("/").split("/")[0] != bucket and f"//{bucket}." not in params.get(
            "url", ""
        ):
            return None
        response = AWSResponse(params.get("url", ""), 403, HTTPHeaders(), None)
        return response, {
            "Error": {"Code": "AccessDenied", "Message": "Access Denied"},
            "ResponseMetadata": {"HTTPStatusCode": 403},
        }

    get_client("s3").meta.events.register("before-call.s3.GetObject", refuse)


def test_an_approved_model_whose_report_cannot_be_read_leaves_the_threshold_to_decide_and_says_why(
    s3: Any, handler: Handler, lambda_context: Any
) -> None:
    old_report = f"s3://{OLD_BUCKET}/runs/credit-old/evaluate/evaluation/evaluation.json"
    approved = register_model_with_report_at(s3, old_report, binary_report(auc=0.99))
    given_run(s3, run_config(), binary_report(auc=0.75))
    deny_reads_from(OLD_BUCKET)

    result = handler(EVENT, lambda_context)

    assert result["passed"]
    assert (result["incumbent_model_package_arn"], result["incumbent_value"]) == (approved, None)
    assert result["reasons"][1].startswith(
        f"The approved model {approved} was not compared: its evaluation report {old_report} cannot be read "
        "(AccessDenied)"
    )
    assert result["reasons"][1].endswith("The threshold alone decides.")


def test_an_approved_model_whose_report_is_gone_leaves_the_threshold_to_decide(
    s3: Any, handler: Handler, lambda_context: Any
) -> None:
    old_report = f"s3://{OLD_BUCKET}/runs/credit-old/evaluate/evaluation/evaluation.json"
    approved = register_model_with_report_at(s3, old_report, binary_report(auc=0.99))
    s3.delete_object(Bucket=OLD_BUCKET, Key=split_s3_uri(old_report)[1])
    s3.delete_bucket(Bucket=OLD_BUCKET)
    given_run(s3, run_config(threshold=0.8), binary_report(auc=0.75))

    result = handler(EVENT, lambda_context)

    assert not result["passed"]
    assert result["reasons"][1] == (
        f"The approved model {approved} was not compared: its evaluation report {old_report} no longer exists. "
        "The threshold alone decides."
    )
