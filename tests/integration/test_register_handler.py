"""Register under moto: one group per dataset, one PendingManualApproval version per run, with lineage."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from tests.conftest import load_event

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
ARTIFACT_BUCKET = "driftline-artifacts-123456789012-us-east-1"
TRAINING_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
CODE_URI = f"s3://{ARTIFACT_BUCKET}/code/3f9c2a1b/"
RUN_CONFIG = {
    "dataset": "credit",
    "target": "default",
    "problem_type": "binary_classification",
    "metric": "auc",
    "threshold": 0.7,
    "higher_is_better": True,
    "hyperparameters": {"max_iter": "200", "C": "1.0"},
}


@pytest.fixture
def lambda_handler(aws: None, monkeypatch: pytest.MonkeyPatch) -> Handler:
    monkeypatch.setenv("ARTIFACT_BUCKET", ARTIFACT_BUCKET)
    monkeypatch.setenv("MODEL_PACKAGE_GROUP_PREFIX", "driftline")
    monkeypatch.setenv("TRAINING_IMAGE_URI", TRAINING_IMAGE)
    monkeypatch.setenv("ML_CODE_URI", CODE_URI)
    monkeypatch.setenv("ML_CODE_VERSION", "3f9c2a1b")
    boto3.client("s3").create_bucket(Bucket=ARTIFACT_BUCKET)
    from functions.register.app import lambda_handler

    return lambda_handler


def _register_event(execution_name: str | None = None) -> dict[str, Any]:
    """The sample Register payload, optionally for another run; its run config is written to S3."""
    event = load_event("register")
    if execution_name is not None:
        original = event["execution_name"]
        event = json.loads(json.dumps(event).replace(original, execution_name))
    bucket, _, key = event["validation"]["config_uri"].removeprefix("s3://").partition("/")
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(RUN_CONFIG).encode())
    return event


def _packages(group: str) -> list[dict[str, Any]]:
    client: Any = boto3.client("sagemaker")
    packages: list[dict[str, Any]] = client.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
    return packages


def test_first_registration_creates_the_group_and_a_pending_package_with_lineage(
    lambda_handler: Handler, lambda_context: Any
) -> None:
    event = _register_event()

    result = lambda_handler(event, lambda_context)

    sagemaker = boto3.client("sagemaker")
    assert result["model_package_group"] == "driftline-credit"
    assert result["approval_status"] == "PendingManualApproval"
    group = sagemaker.describe_model_package_group(ModelPackageGroupName="driftline-credit")
    assert "credit" in group["ModelPackageGroupDescription"]
    package = sagemaker.describe_model_package(ModelPackageName=result["model_package_arn"])
    assert package["ModelPackageGroupName"] == "driftline-credit"
    assert package["ModelPackageVersion"] == 1
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert package["ModelMetrics"]["ModelQuality"]["Statistics"] == {
        "ContentType": "application/json",
        "S3Uri": event["gate"]["evaluation_uri"],
    }
    container = package["InferenceSpecification"]["Containers"][0]
    assert container["Image"] == TRAINING_IMAGE
    assert container["ModelDataUrl"] == event["training"]["outputs"]["model"]
    assert container["Environment"] == {
        "SAGEMAKER_SUBMIT_DIRECTORY": f"{CODE_URI}sourcedir.tar.gz",
        "SAGEMAKER_PROGRAM": "serve.py",
    }
    assert package["InferenceSpecification"]["SupportedContentTypes"] == ["text/csv", "application/json"]
    assert package["MetadataProperties"]["GeneratedBy"] == event["execution_id"]
    assert package["MetadataProperties"]["CommitId"] == "3f9c2a1b"
    assert package["CustomerMetadataProperties"] == {
        "dataset": "credit",
        "data_uri": event["data"]["uri"],
        "data_version_id": event["data"]["version_id"],
        "config_uri": event["validation"]["config_uri"],
        "code_version": "3f9c2a1b",
        "execution_arn": event["execution_id"],
        "problem_type": "binary_classification",
        "target": "default",
        "metric": "auc",
        "metric_value": "0.9132",
        "hyperparameters": "C=1.0 max_iter=200",
        "training_job": event["training"]["job_name"],
        "preprocess_job": event["preprocess"]["job_name"],
        "evaluation_job": event["evaluation"]["job_name"],
        "trigger": "upload",
    }
    assert event["execution_name"] in package["ModelPackageDescription"]


def test_a_model_trained_by_a_dataset_s_own_script_names_the_script_in_its_lineage(
    lambda_handler: Handler, lambda_context: Any
) -> None:
    event = _register_event()
    bucket, _, key = event["validation"]["config_uri"].removeprefix("s3://").partition("/")
    scripted = RUN_CONFIG | {"model_script": "logistic_regression", "hyperparameters": {"C": "0.5"}}
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(scripted).encode())

    result = lambda_handler(event, lambda_context)

    package = boto3.client("sagemaker").describe_model_package(ModelPackageName=result["model_package_arn"])
    lineage = package["CustomerMetadataProperties"]
    assert (lineage["model_script"], lineage["hyperparameters"]) == ("logistic_regression", "C=0.5")


def test_a_script_on_xgboost_s_framework_container_registers_the_training_artifact_with_the_xgboost_image(
    lambda_handler: Handler, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    xgboost_image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
    monkeypatch.setenv("XGBOOST_IMAGE_URI", xgboost_image)
    event = _register_event()
    bucket, _, key = event["validation"]["config_uri"].removeprefix("s3://").partition("/")
    scripted = RUN_CONFIG | {"model_script": "xgboost_trees", "model_framework": "xgboost", "hyperparameters": {}}
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(scripted).encode())

    result = lambda_handler(event, lambda_context)

    package = boto3.client("sagemaker").describe_model_package(ModelPackageName=result["model_package_arn"])
    container = package["InferenceSpecification"]["Containers"][0]
    assert container["Image"] == xgboost_image
    assert container["ModelDataUrl"] == event["training"]["outputs"]["model"]
    assert package["CustomerMetadataProperties"]["model_framework"] == "xgboost"


def test_a_script_on_pytorch_registers_its_model_on_pytorch_s_serving_image_with_the_program_from_the_model(
    lambda_handler: Handler, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    serving_image = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6.0-cpu-py312"
    monkeypatch.setenv("PYTORCH_INFERENCE_IMAGE_URI", serving_image)
    event = _register_event()
    bucket, _, key = event["validation"]["config_uri"].removeprefix("s3://").partition("/")
    scripted = RUN_CONFIG | {"model_script": "torch_mlp", "model_framework": "pytorch", "hyperparameters": {}}
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(scripted).encode())

    result = lambda_handler(event, lambda_context)

    package = boto3.client("sagemaker").describe_model_package(ModelPackageName=result["model_package_arn"])
    container = package["InferenceSpecification"]["Containers"][0]
    assert container["Image"] == serving_image
    assert container["ModelDataUrl"] == event["training"]["outputs"]["model"]
    # That image imports SAGEMAKER_PROGRAM from the model's code/ folder and downloads no submit directory.
    assert container["Environment"] == {"SAGEMAKER_PROGRAM": "serve.py"}
    assert package["CustomerMetadataProperties"]["model_framework"] == "pytorch"


def test_a_drift_retrain_s_package_says_why_it_was_trained_which_features_drifted_and_on_what(
    lambda_handler: Handler, lambda_context: Any
) -> None:
    event = _register_event()
    report = f"s3://{ARTIFACT_BUCKET}/drift/credit/reports/2026/11/02/10/drift_report.html"
    retrain = f"s3://{ARTIFACT_BUCKET}/runs/{event['execution_name']}/retrain.json"
    event["trigger"] = {
        "source": "drift",
        "event_id": "5c0e8a4e-2f5b-4f7e-9d55-0c8f0d2f6a11",
        "alarm_name": "driftline-drift-credit",
        "drifted_features": [
            {"name": "income", "distance": 0.41234, "threshold": 0.1},
            {"name": "home (type)", "distance": None, "threshold": None},
        ],
        "report_uri": report,
        "retrain_uri": retrain,
    }

    result = lambda_handler(event, lambda_context)

    package = boto3.client("sagemaker").describe_model_package(ModelPackageName=result["model_package_arn"])
    lineage = package["CustomerMetadataProperties"]
    assert lineage["trigger"] == "drift"
    assert lineage["drifted_features"] == "income=0.4123 home _type_"
    assert lineage["drift_report_uri"] == report
    assert lineage["retrain_uri"] == retrain


def test_a_retried_registration_returns_the_same_package(lambda_handler: Handler, lambda_context: Any) -> None:
    event = _register_event()

    first = lambda_handler(event, lambda_context)
    retried = lambda_handler(event, lambda_context)

    assert retried == first
    assert len(_packages("driftline-credit")) == 1


def test_a_second_run_registers_version_2_in_the_same_group(lambda_handler: Handler, lambda_context: Any) -> None:
    sagemaker = boto3.client("sagemaker")
    first = lambda_handler(_register_event(), lambda_context)
    created = sagemaker.describe_model_package_group(ModelPackageGroupName="driftline-credit")["CreationTime"]
    second = lambda_handler(_register_event("credit-0a1b2c3d4e5f"), lambda_context)

    assert second["model_package_group"] == first["model_package_group"] == "driftline-credit"
    assert second["model_package_arn"] != first["model_package_arn"]
    assert second["model_package_arn"].endswith("/2")
    groups = sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]
    assert [group["ModelPackageGroupName"] for group in groups] == ["driftline-credit"]
    assert groups[0]["CreationTime"] == created
    assert sorted(package["ModelPackageVersion"] for package in _packages("driftline-credit")) == [1, 2]
