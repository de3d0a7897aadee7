"""SageMaker's job and endpoint APIs as the stages use them: describe or None, start once, status spellings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import ClientError

from driftline_core.aws.clients import get_client
from driftline_core.aws.error_codes import is_already_exists, is_not_found

PROCESSING_EVENT = "SageMaker Processing Job State Change"
TRAINING_EVENT = "SageMaker Training Job State Change"
TRANSFORM_EVENT = "SageMaker Transform Job State Change"
ENDPOINT_EVENT = "SageMaker Endpoint State Change"
TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Stopped"})
ENDPOINT_IN_PROGRESS = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack"})


@dataclass(frozen=True)
class JobApi:
    """The SageMaker API names of one job type."""

    job_type: Literal["processing", "training", "transform"]
    label: str
    name_field: str
    arn_field: str
    status_field: str
    create: str
    describe: str


PROCESSING = JobApi(
    job_type="processing",
    label="Processing",
    name_field="ProcessingJobName",
    arn_field="ProcessingJobArn",
    status_field="ProcessingJobStatus",
    create="create_processing_job",
    describe="describe_processing_job",
)
TRAINING = JobApi(
    job_type="training",
    label="Training",
    name_field="TrainingJobName",
    arn_field="TrainingJobArn",
    status_field="TrainingJobStatus",
    create="create_training_job",
    describe="describe_training_job",
)
TRANSFORM = JobApi(
    job_type="transform",
    label="Transform",
    name_field="TransformJobName",
    arn_field="TransformJobArn",
    status_field="TransformJobStatus",
    create="create_transform_job",
    describe="describe_transform_job",
)
JOB_API_BY_EVENT: dict[str, JobApi] = {
    PROCESSING_EVENT: PROCESSING,
    TRAINING_EVENT: TRAINING,
    TRANSFORM_EVENT: TRANSFORM,
}

_ENDPOINT_STATUS_BY_KEY = {
    status.lower(): status
    for status in (
        "OutOfService",
        "Creating",
        "Updating",
        "SystemUpdating",
        "RollingBack",
        "InService",
        "Deleting",
        "Failed",
        "UpdateRollbackFailed",
    )
}


def describe_job(api: JobApi, job_name: str) -> dict[str, Any] | None:
    """The job's description, or None when no job has that name."""
    try:
        description: dict[str, Any] = getattr(get_client("sagemaker"), api.describe)(**{api.name_field: job_name})
    except ClientError as error:
        if is_not_found(error):
            return None
        raise
    return description


def start_processing_job_once(request: Mapping[str, Any]) -> bool:
    """CreateProcessingJob unless a job of that name exists already (a repeated call); True when started."""
    if describe_job(PROCESSING, str(request["ProcessingJobName"])) is not None:
        return False
    try:
        get_client("sagemaker").create_processing_job(**request)
    except ClientError as error:
        if is_already_exists(error):
            return False
        raise
    return True


def describe_endpoint(name: str) -> dict[str, Any] | None:
    """The endpoint's description, or None when there is no such endpoint."""
    try:
        description: dict[str, Any] = get_client("sagemaker").describe_endpoint(EndpointName=name)
    except ClientError as error:
        if is_not_found(error):
            return None
        raise
    return description


def endpoint_status(description_or_detail: Mapping[str, Any]) -> str:
    """The status in DescribeEndpoint's spelling; state-change events write it ``IN_SERVICE``."""
    raw = str(description_or_detail.get("EndpointStatus") or "")
    return _ENDPOINT_STATUS_BY_KEY.get(raw.replace("_", "").lower(), raw)
