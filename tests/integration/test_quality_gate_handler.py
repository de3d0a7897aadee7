"""The QualityGate handler under moto: run config and reports in S3, approved models in the registry."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from driftline_core.errors import EvaluationReportInvalid
from driftline_core.layout import split_s3_uri
from driftline_core.payloads import GateInput
from tests.conftest import load_event
from tests.integration.serving_endpoint import ENDPOINT, serve_on_endpoint

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


def binary_metrics(auc: float) -> dict[str, Any]:
    scores = {"auc": auc, "accuracy": 0.8, "precision": 0.78, "recall": 0.74, "f1": 0.76}
    return {name: {"value": value, "standard_deviation": "NaN"} for name, value in scores.items()}


def binary_report(auc: float, incumbent: tuple[str, float] | None = None) -> dict[str, Any]:
    """An evaluation report; ``incumbent`` is the approved model's package and its auc on the same test rows."""
    report: dict[str, Any] = {
        "binary_classification_metrics": binary_metrics(auc),
        "driftline": {"problem_type": "binary_classification", "metric": "auc", "test_rows": 150},
    }
    if incumbent is not None:
        arn, value = incumbent
        report["incumbent"] = {
            "model_package_arn": arn,
            "scored": True,
            "binary_classification_metrics": binary_metrics(value),
            "test_rows": 150,
        }
    return report


def regression_report(rmse: float, incumbent: tuple[str, float] | None = None) -> dict[str, Any]:
    def metrics(value: float) -> dict[str, Any]:
        scores = {"mse": value**2, "rmse": value, "mae": value * 0.8, "r2": 0.7}
        return {name: {"value": number, "standard_deviation": "NaN"} for name, number in scores.items()}

    report: dict[str, Any] = {"regression_metrics": metrics(rmse)}
    if incumbent is not None:
        report["incumbent"] = {
            "model_package_arn": incumbent[0],
            "scored": True,
            "regression_metrics": metrics(incumbent[1]),
            "test_rows": 150,
        }
    return report


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
        "data_drift": None,
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


def test_a_model_worse_than_the_approved_one_on_the_same_split_fails_even_above_its_registered_number(
    s3: Any, handler: Handler, lambda_context: Any
) -> None:
    # The approved model registered 0.8 on its own test split; on this run's split it scores 0.9.
    approved = register_model(s3, binary_report(auc=0.8))
    given_run(s3, run_config(), binary_report(auc=0.86, incumbent=(approved, 0.9)))
    result = handler(EVENT, lambda_context)
    assert not result["passed"]
    assert (result["incumbent_model_package_arn"], result["incumbent_value"]) == (approved, 0.9)
    assert result["reasons"][1] == (
        f"auc 0.86 is no better than the approved model {approved} (0.9 on the same test split): "
        "the candidate must be strictly better."
    )


def test_a_model_better_than_the_approved_one_on_the_same_split_passes_even_below_its_registered_number(
    s3: Any, handler: Handler, lambda_context: Any
) -> None:
    approved = register_model(s3, binary_report(auc=0.95))
    given_run(s3, run_config(), binary_report(auc=0.86, incumbent=(approved, 0.78)))
    result = handler(EVENT, lambda_context)
    assert result["passed"]
    assert (result["incumbent_model_package_arn"], result["incumbent_value"]) == (approved, 0.78)
    assert "beats the approved model" in result["reasons"][1]


def test_only_approved_models_are_compared_with(s3: Any, handler: Handler, lambda_context: Any) -> None:
    pending = register_model(s3, binary_report(auc=0.99), status="PendingManualApproval")
    register_model(s3, binary_report(auc=0.97), status="Rejected", version=2)
    given_run(s3, run_config(), binary_report(auc=0.8, incumbent=(pending, 0.99)))
    result = handler(EVENT, lambda_context)
    assert result["passed"]
    assert result["incumbent_model_package_arn"] is None


def test_the_required_improvement_comes_from_the_settings(
    s3: Any, handler: Handler, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftline_core.settings import reset_settings

    monkeypatch.setenv("MIN_IMPROVEMENT", "0.05")
    reset_settings()
    approved = register_model(s3, binary_report(auc=0.8))
    given_run(s3, run_config(), binary_report(auc=0.83, incumbent=(approved, 0.8)))
    result = handler(EVENT, lambda_context)
    assert not result["passed"]
    assert "more than the required 0.05" in result["reasons"][1]


def test_an_approved_model_the_job_could_not_score_leaves_the_threshold_to_decide_and_says_why(
    s3: Any, handler: Handler, lambda_context: Any
) -> None:
    approved = register_model(s3, binary_report(auc=0.99))
    report = binary_report(auc=0.75)
    report["incumbent"] = {
        "model_package_arn": approved,
        "scored": False,
        "reason": "its model artifact is outside this deployment's artifact bucket, which the evaluation job may "
        "read (it probably belongs to an earlier deployment of this stack)",
    }
    given_run(s3, run_config(), report)
    result = handler(EVENT, lambda_context)
    assert result["passed"]
    assert (result["incumbent_model_package_arn"], result["incumbent_value"]) == (approved, None)
    assert result["reasons"][1] == (
        f"The approved model {approved} was not compared: the evaluation job could not score it on this run's "
        "test split: its model artifact is outside this deployment's artifact bucket, which the evaluation job "
        "may read (it probably belongs to an earlier deployment of this stack). The threshold alone decides."
    )


def test_a_model_approved_after_the_evaluation_started_is_not_compared_and_the_threshold_decides(
    s3: Any, handler: Handler, lambda_context: Any
) -> None:
    approved = register_model(s3, binary_report(auc=0.99))
    given_run(s3, run_config(threshold=0.8), binary_report(auc=0.75))
    result = handler(EVENT, lambda_context)
    assert not result["passed"]
    assert result["reasons"][1] == (
        f"The approved model {approved} was not compared: it was approved after this run's evaluation job "
        "started, so it was not scored on this run's test split. The threshold alone decides."
    )


def test_the_candidate_is_compared_with_the_model_the_endpoint_serves_not_a_newer_approved_one(
    s3: Any, handler: Handler, lambda_context: Any
) -> None:
    serving = register_model(s3, binary_report(auc=0.8))
    serve_on_endpoint(serving)
    register_model(s3, binary_report(auc=0.85), version=2)  # Approved; its deployment rolled back
    given_run(s3, run_config(), binary_report(auc=0.91, incumbent=(serving, 0.93)))
    result = handler(EVENT, lambda_context)
    assert not result["passed"]
    assert (result["incumbent_model_package_arn"], result["incumbent_value"]) == (serving, 0.93)
    assert result["reasons"][1:] == [
        f"auc 0.91 is no better than the model serving on {ENDPOINT} (version 1, 0.93 on the same test split): "
        "the candidate must be strictly better.",
        f"Version 2 is Approved but does not serve on {ENDPOINT} (its deployment did not complete, or has not "
        "finished yet), so it is not the model compared with.",
    ]


def test_an_endpoint_whose_model_cannot_be_read_leaves_the_threshold_to_decide_and_says_why(
    s3: Any, handler: Handler, lambda_context: Any
) -> None:
    model = serve_on_endpoint(register_model(s3, binary_report(auc=0.8)))
    boto3.client("sagemaker").delete_model(ModelName=model)
    given_run(s3, run_config(), binary_report(auc=0.75))
    result = handler(EVENT, lambda_context)
    assert result["passed"]
    assert result["incumbent_model_package_arn"] is None
    assert result["reasons"][1] == (
        f"What {ENDPOINT} serves cannot be read, so no model was compared: its model {model} no longer exists, so "
        "which model package it serves is unknown. The threshold alone decides."
    )


def test_a_lower_is_better_metric_passes_below_the_threshold_and_the_approved_model(
    s3: Any, handler: Handler, lambda_context: Any
) -> None:
    config = run_config("regression", metric="rmse", threshold=5.0, higher_is_better=False)
    approved = register_model(s3, regression_report(rmse=3.0))
    given_run(s3, config, regression_report(rmse=3.6, incumbent=(approved, 4.1)))
    result = handler(EVENT, lambda_context)
    assert result["passed"]
    assert (result["value"], result["higher_is_better"], result["incumbent_value"]) == (3.6, False, 4.1)
    assert result["reasons"][0] == "rmse 3.6 meets the threshold 5 (lower is better)."
    assert approved in result["reasons"][1]


def test_a_lower_is_better_metric_fails_above_the_approved_model(
    s3: Any, handler: Handler, lambda_context: Any
) -> None:
    config = run_config("regression", metric="rmse", threshold=5.0, higher_is_better=False)
    approved = register_model(s3, regression_report(rmse=4.0))
    given_run(s3, config, regression_report(rmse=3.6, incumbent=(approved, 3.1)))
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


BASELINE = "s3://driftline-artifacts-123456789012-us-east-1/runs/credit-0a1b2c3d4e5f/baseline/"


def drift_section(arn: str, *drifted: tuple[str, float, float]) -> dict[str, Any]:
    """The evaluation job's ``data_drift`` section: ``drifted`` holds (feature, distance, Robust margin)."""
    return {
        "model_package_arn": arn,
        "baseline_uri": BASELINE,
        "compared": True,
        "rows_compared": 2550,
        "baseline_rows": 2100,
        "features": 12,
        "drifted_features": [
            {"name": name, "kind": "numeric", "distance": distance, "threshold": 0.1, "margin": margin}
            for name, distance, margin in drifted
        ],
        "missing_columns": ["age"],
        "extra_columns": [],
        "report_file": "data_drift.html",
        "details_file": "data_drift.json",
    }


def test_the_gate_carries_how_the_data_differs_from_the_serving_models_baseline_without_changing_its_decision(
    s3: Any, handler: Handler, lambda_context: Any
) -> None:
    approved = register_model(s3, binary_report(auc=0.8))
    report = binary_report(auc=0.84, incumbent=(approved, 0.8))
    given_run(s3, run_config(), report)
    without_drift = handler(EVENT, lambda_context)
    report["data_drift"] = drift_section(approved, ("plan", 0.22, 0.0), ("income", 0.36, 0.05))
    given_run(s3, run_config(), report)

    result = handler(EVENT, lambda_context)

    assert result["data_drift"] == {
        "compared": True,
        "reason": None,
        "model_package_arn": approved,
        "baseline_uri": BASELINE,
        "report_uri": EVALUATION_PREFIX + "data_drift.html",
        "rows_compared": 2550,
        "features": 12,
        "drifted_count": 2,
        # The farthest beyond its bar first: income by 0.21, plan by 0.12.
        "drifted_features": [
            {"name": "income", "distance": 0.36, "threshold": 0.1, "margin": 0.05},
            {"name": "plan", "distance": 0.22, "threshold": 0.1, "margin": 0.0},
        ],
        "missing_columns": ["age"],
        "extra_columns": [],
    }
    assert {**result, "data_drift": None} == without_drift


def test_the_gate_carries_why_the_data_was_not_compared_with_a_baseline(
    s3: Any, handler: Handler, lambda_context: Any
) -> None:
    approved = register_model(s3, binary_report(auc=0.8))
    report = binary_report(auc=0.84, incumbent=(approved, 0.8))
    report["data_drift"] = {"model_package_arn": approved, "compared": False, "reason": "its drift baseline is gone."}
    given_run(s3, run_config(), report)

    result = handler(EVENT, lambda_context)

    assert result["passed"] is True
    assert result["data_drift"]["compared"] is False
    assert result["data_drift"]["reason"] == "its drift baseline is gone"
    assert result["data_drift"]["model_package_arn"] == approved


def test_a_data_drift_section_the_gate_cannot_read_is_said_not_raised(
    s3: Any, handler: Handler, lambda_context: Any
) -> None:
    report = binary_report(auc=0.84)
    report["data_drift"] = {"compared": True, "drifted_features": [{"name": "income"}]}
    given_run(s3, run_config(), report)

    result = handler(EVENT, lambda_context)

    assert result["passed"] is True
    assert result["data_drift"]["compared"] is False
    assert result["data_drift"]["reason"].startswith("the evaluation report's data_drift section cannot be read")
