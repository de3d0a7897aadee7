"""SageMaker Model Registry access: the model a candidate must beat (the one its dataset's endpoint serves), and
registration."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from driftline_core.aws.clients import get_client
from driftline_core.aws.error_codes import is_not_found
from driftline_core.aws.s3io import read_json
from driftline_core.aws.sagemaker import describe_endpoint, endpoint_status
from driftline_core.errors import SageMakerJobFailed
from driftline_core.layout import endpoint_name, ml_code_tarball_uri, model_package_group_name, split_s3_uri
from driftline_core.payloads import RegisterInput, RegistrationResult
from driftline_core.settings import Settings
from driftline_core.training.job_requests import (
    PACKED_MODEL_FILE,
    model_framework,
    model_image,
    model_image_uri,
    trains_with_xgboost,
)

# Group names ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApprovedModel:
    """A registered model package a candidate may be compared with: the newest Approved one, or the one serving."""

    model_package_arn: str
    evaluation_uri: str | None
    """The evaluation report registered with the package (ModelMetrics.ModelQuality.Statistics)."""
    model_data_url: str | None = None
    """The package's ``model.tar.gz`` (its first inference container's ModelDataUrl)."""
    execution_arn: str | None = None
    """The run that trained it (its lineage's ``execution_arn``), whose folder holds its drift baseline."""


@dataclass(frozen=True)
class ModelToBeat:
    """The model a candidate is compared with: the one the dataset's endpoint serves, else the newest Approved.

    The newest Approved version need not serve: its deployment may have rolled back, or its run may have been
    stopped between approval and Deploy. Production is what a candidate must improve on.
    """

    model: ApprovedModel | None
    """None when no model of the dataset is approved, or when what the endpoint serves cannot be read."""
    serving_on: str | None
    """The endpoint ``model`` serves on; None when the dataset has no endpoint serving a model."""
    unreadable: str | None = None
    """Why what the endpoint serves could not be read (a sentence), when it could not."""
    approved_not_serving: ApprovedModel | None = None
    """The newest Approved version when an endpoint serves another one."""


NOTHING_SERVES_STATUSES = frozenset({"Creating", "Failed", "Deleting"})
"""Endpoint statuses in which no model answers requests: a first deployment running or failed, or a deletion."""


def find_model_to_beat(stack: str, dataset: str) -> ModelToBeat:
    """The model package the dataset's endpoint serves; without a serving endpoint, the newest Approved one.

    DescribeEndpoint names the config it serves (during an update, still the current one); the config's variant
    names its model, whose container records the package it was made from (Deploy creates it from the package).
    """
    newest = find_approved_model_package(model_package_group_name(stack, dataset))
    endpoint = endpoint_name(stack, dataset)
    description = describe_endpoint(endpoint)
    if description is None or endpoint_status(description) in NOTHING_SERVES_STATUSES:
        return ModelToBeat(newest, serving_on=None)
    arn, unreadable = _served_package_arn(description)
    serving = _describe_package(arn) if arn else None
    if serving is None:
        why = unreadable or f"it serves model package {arn}, which no longer exists in the Model Registry."
        return ModelToBeat(None, serving_on=endpoint, unreadable=why, approved_not_serving=newest)
    other = newest if newest is not None and newest.model_package_arn != serving.model_package_arn else None
    return ModelToBeat(serving, serving_on=endpoint, approved_not_serving=other)


def _served_package_arn(description: dict[str, Any]) -> tuple[str | None, str | None]:
    """``(package ARN, None)`` for the endpoint's current config, else ``(None, why)``."""
    sagemaker = get_client("sagemaker")
    config_name = str(description.get("EndpointConfigName") or "")
    try:
        config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    except ClientError as error:
        if not is_not_found(error):
            raise
        return None, f"its endpoint config {config_name} no longer exists, so which model it serves is unknown."
    variants = config.get("ProductionVariants") or [{}]
    model_name = str(variants[0].get("ModelName") or "")
    if not model_name:
        return None, f"its endpoint config {config_name} names no model."
    try:
        model = sagemaker.describe_model(ModelName=model_name)
    except ClientError as error:
        if not is_not_found(error):
            raise
        return None, f"its model {model_name} no longer exists, so which model package it serves is unknown."
    package = (model.get("PrimaryContainer") or {}).get("ModelPackageName")
    if not package:
        return None, f"its model {model_name} was not made from a package of the Model Registry."
    return str(package), None


def find_approved_model_package(group_name: str) -> ApprovedModel | None:
    """The newest Approved package of a group, or None when the group is new or has none approved."""
    try:
        page = get_client("sagemaker").list_model_packages(
            ModelPackageGroupName=group_name,
            ModelApprovalStatus="Approved",
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=1,
        )
    except ClientError as error:
        if is_not_found(error):
            return None
        raise
    summaries = page.get("ModelPackageSummaryList", [])
    if not summaries:
        return None
    return _describe_package(summaries[0]["ModelPackageArn"])


def _describe_package(arn: str) -> ApprovedModel | None:
    try:
        described = get_client("sagemaker").describe_model_package(ModelPackageName=arn)
    except ClientError as error:
        if is_not_found(error):
            return None
        raise
    statistics = described.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {})
    containers = described.get("InferenceSpecification", {}).get("Containers") or [{}]
    return ApprovedModel(
        model_package_arn=arn,
        evaluation_uri=statistics.get("S3Uri"),
        model_data_url=containers[0].get("ModelDataUrl"),
        execution_arn=described.get("CustomerMetadataProperties", {}).get("execution_arn"),
    )


JOB_READABLE_PREFIX = "runs/"
"""The artifact bucket's prefix the SageMaker jobs' role may read (besides the published code)."""


def model_artifact_for_jobs(approved: ApprovedModel, artifact_bucket: str) -> tuple[str | None, str | None]:
    """``(uri, None)`` when this deployment's jobs can read the approved model's artifact, else ``(None, why)``.

    A processing input SageMaker cannot download fails the whole job, so an artifact the jobs' role may not
    read (another bucket: groups outlive a stack, so it may be an earlier deployment's) or that is gone is
    not given to the job; the reason (a short clause, as a job's environment value holds 256 characters)
    reaches the quality gate through the evaluation report instead.
    """
    url = approved.model_data_url
    if not url:
        return None, "its model package names no model artifact (ModelDataUrl)"
    try:
        bucket, key = split_s3_uri(url)
    except ValueError:
        return None, "its model artifact is not an S3 object"
    if bucket != artifact_bucket or not key.startswith(JOB_READABLE_PREFIX):
        return None, (
            "its model artifact is outside this deployment's artifact bucket, which the evaluation job "
            "may read (it probably belongs to an earlier deployment of this stack)"
        )
    try:
        get_client("s3").head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if is_not_found(error):
            return None, "its model artifact no longer exists in the artifact bucket"
        raise
    return url, None


# Registration ---------------------------------------------------------------------------------------

SERVING_PROGRAM = "serve.py"
"""Entry point the scikit-learn serving container runs from the code tarball."""
INFERENCE_CONTENT_TYPES = ["text/csv", "application/json"]
APPROVAL_PENDING = "PendingManualApproval"
_METADATA_VALUE_MAX = 256
_METADATA_UNSAFE = re.compile(r"[^\w .:/=+\-@]")
_TASK_BY_PROBLEM = {
    "binary_classification": "CLASSIFICATION",
    "multiclass_classification": "CLASSIFICATION",
    "regression": "REGRESSION",
}


def register_candidate(step: RegisterInput, settings: Settings) -> RegistrationResult:
    """Register a candidate that passed the quality gate, waiting for a person to approve it.

    A retried Register step finds the package its first attempt created instead of adding a second
    version for the same run.
    """
    group_name = model_package_group_name(settings.model_package_group_prefix, step.dataset)
    ensure_model_package_group(group_name, step.dataset)
    existing = find_model_package_for_execution(group_name, step.execution_name, step.execution_id)
    if existing is not None:
        return RegistrationResult(
            model_package_arn=existing["ModelPackageArn"],
            model_package_group=group_name,
            approval_status=existing.get("ModelApprovalStatus", APPROVAL_PENDING),
        )
    run_config = read_json(step.validation.config_uri)
    request = build_model_package_request(step, group_name, run_config, settings)
    created = get_client("sagemaker").create_model_package(**request)
    return RegistrationResult(
        model_package_arn=created["ModelPackageArn"],
        model_package_group=group_name,
        approval_status=APPROVAL_PENDING,
    )


def ensure_model_package_group(group_name: str, dataset: str) -> None:
    """Create the dataset's group on its first registration; later runs add versions to it."""
    sagemaker = get_client("sagemaker")
    if _model_package_group_exists(group_name):
        return
    try:
        sagemaker.create_model_package_group(
            ModelPackageGroupName=group_name,
            ModelPackageGroupDescription=(
                f"Driftline models for dataset {dataset}: one version per run that passed the quality gate."
            ),
            Tags=[{"Key": "driftline:dataset", "Value": dataset}],
        )
    except ClientError:
        # Two runs of one dataset may race to create the group; the loser finds it created.
        if not _model_package_group_exists(group_name):
            raise


def find_model_package_for_execution(group_name: str, execution_name: str, execution_id: str) -> dict[str, Any] | None:
    """The package a run already registered in a group, described, or None.

    Each package's description names its run, so only a matching package is described to confirm
    the execution ARN it records.
    """
    sagemaker = get_client("sagemaker")
    pages = sagemaker.get_paginator("list_model_packages").paginate(
        ModelPackageGroupName=group_name, SortBy="CreationTime", SortOrder="Descending"
    )
    for page in pages:
        for summary in page.get("ModelPackageSummaryList", []):
            if _run_marker(execution_name) not in summary.get("ModelPackageDescription", ""):
                continue
            described: dict[str, Any] = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
            if described.get("CustomerMetadataProperties", {}).get("execution_arn") == execution_id:
                return described
    return None


def build_model_package_request(
    step: RegisterInput, group_name: str, run_config: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    """The CreateModelPackage request: serving container, evaluation report and the run's lineage.

    A model trained by SageMaker's XGBoost algorithm is registered as the evaluation job packed it (booster and
    metadata), served by ``ml/serve.py`` on the XGBoost framework image; any other by the training job's artifact
    on the image it trained on (``model_image_uri``: a script's framework image, or scikit-learn's).
    """
    xgboost = trains_with_xgboost(run_config)
    source = step.evaluation if xgboost else step.training
    model_uri = source.outputs.get("model")
    if model_uri and xgboost:
        model_uri = f"{model_uri.rstrip('/')}/{PACKED_MODEL_FILE}"
    if not model_uri:
        raise SageMakerJobFailed(
            f"The {source.job_type} job {source.job_name} reported no model artifact, so there is nothing to "
            "register. Check the job's output in the SageMaker console and upload the data again."
        )
    gate = step.gate
    problem_type = str(run_config.get("problem_type", ""))
    request: dict[str, Any] = {
        "ModelPackageGroupName": group_name,
        "ModelPackageDescription": _package_description(step, problem_type),
        "ModelApprovalStatus": APPROVAL_PENDING,
        "ClientToken": str(uuid.uuid5(uuid.NAMESPACE_URL, step.execution_id)),
        "InferenceSpecification": {
            "Containers": [
                {
                    "Image": model_image_uri(run_config, settings),
                    "ModelDataUrl": model_uri,
                    "Environment": serving_environment(run_config, settings),
                }
            ],
            "SupportedContentTypes": INFERENCE_CONTENT_TYPES,
            "SupportedResponseMIMETypes": INFERENCE_CONTENT_TYPES,
        },
        "ModelMetrics": {
            "ModelQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": gate.evaluation_uri},
            }
        },
        "MetadataProperties": {
            "GeneratedBy": step.execution_id,
            "CommitId": settings.ml_code_version,
            "Repository": settings.ml_code_uri,
        },
        "CustomerMetadataProperties": lineage_metadata(step, run_config, settings),
        "Domain": "MACHINE_LEARNING",
    }
    if problem_type in _TASK_BY_PROBLEM:
        request["Task"] = _TASK_BY_PROBLEM[problem_type]
    return request


def lineage_metadata(step: RegisterInput, run_config: dict[str, Any], settings: Settings) -> dict[str, str]:
    """Where the model came from, as the registry's string-only custom metadata.

    Values must match the registry's character set (letters, digits, spaces and ``_.:/=+-@``) and
    256 characters, so hyperparameters are written ``name=value`` separated by spaces; the exact
    values stay in the run config, whose URI is recorded too.
    """
    hyperparameters = run_config.get("hyperparameters") or {}
    properties = {
        "dataset": step.dataset,
        "data_uri": step.data.uri,
        "data_version_id": step.data.version_id or "",
        "config_uri": step.validation.config_uri,
        "code_version": settings.ml_code_version,
        "execution_arn": step.execution_id,
        "problem_type": str(run_config.get("problem_type", "")),
        "target": str(run_config.get("target", "")),
        "metric": step.gate.metric,
        "metric_value": repr(step.gate.value),
        "hyperparameters": " ".join(f"{name}={value}" for name, value in sorted(hyperparameters.items())),
        "model_script": str(run_config.get("model_script") or ""),
        "model_algorithm": str(run_config.get("model_algorithm") or ""),
        "model_framework": model_framework(run_config) if run_config.get("model_script") else "",
        "model_image": model_image(run_config) or "",
        "training_instances": str(run_config.get("instance_count") or 1)
        if run_config.get("model_algorithm") or run_config.get("model_image")
        else "",
        "training_job": step.training.job_name,
        "preprocess_job": step.preprocess.job_name,
        "evaluation_job": step.evaluation.job_name,
        **trigger_lineage(step),
    }
    cleaned = {name: _metadata_value(value) for name, value in properties.items()}
    return {name: value for name, value in cleaned.items() if value}


def trigger_lineage(step: RegisterInput) -> dict[str, str]:
    """Why the model was trained: ``upload``, or ``drift`` with the drifted features (``name=distance``), the drift
    report and the retrain's window (``retrain.json``) it trained on."""
    trigger = step.trigger
    drifted = " ".join(
        f"{feature.name}={feature.distance:.4f}" if feature.distance is not None else feature.name
        for feature in trigger.drifted_features
    )
    return {
        "trigger": trigger.source,
        "drifted_features": drifted,
        "drift_report_uri": trigger.report_uri or "",
        "retrain_uri": trigger.retrain_uri or "",
    }


def _package_description(step: RegisterInput, problem_type: str) -> str:
    kind = problem_type.replace("_", " ") if problem_type else "model"
    return (
        f"{step.dataset} {kind} model {_run_marker(step.execution_name)} on {step.data.uri}: "
        f"{step.gate.metric} {step.gate.value:.4f}"
    )[:1024]


def _run_marker(execution_name: str) -> str:
    """The phrase that ties a package's description to the run that registered it."""
    return f"from run {execution_name}"


def _metadata_value(value: str) -> str:
    return _METADATA_UNSAFE.sub("_", value)[:_METADATA_VALUE_MAX].strip()


def _model_package_group_exists(group_name: str) -> bool:
    try:
        get_client("sagemaker").describe_model_package_group(ModelPackageGroupName=group_name)
    except ClientError as error:
        if is_not_found(error):
            return False
        raise
    return True


def serving_environment(run_config: Mapping[str, Any], settings: Settings) -> dict[str, str]:
    """The model container's environment: none for the dataset's own container, which serves itself; a framework
    container runs ``ml/serve.py``, from the published code, or, on PyTorch's serving image, from the model's own
    ``code/`` folder, the only place that image imports it from (the training job put it there)."""
    if model_image(run_config):
        return {}
    if model_framework(run_config) == "pytorch":
        return {"SAGEMAKER_PROGRAM": SERVING_PROGRAM}
    return {
        "SAGEMAKER_SUBMIT_DIRECTORY": ml_code_tarball_uri(settings.ml_code_uri),
        "SAGEMAKER_PROGRAM": SERVING_PROGRAM,
    }
