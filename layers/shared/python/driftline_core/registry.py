"""SageMaker Model Registry access: the approved model a candidate must beat, and registration."""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import ClientError

from driftline_core.clients import get_client


@dataclass(frozen=True)
class ApprovedModel:
    model_package_arn: str
    evaluation_uri: str | None
    """The evaluation report registered with the package (ModelMetrics.ModelQuality.Statistics)."""


def find_approved_model_package(group_name: str) -> ApprovedModel | None:
    """The newest Approved package of a group, or None when the group is new or has none approved."""
    sagemaker = get_client("sagemaker")
    try:
        page = sagemaker.list_model_packages(
            ModelPackageGroupName=group_name,
            ModelApprovalStatus="Approved",
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=1,
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"ValidationException", "ResourceNotFound"}:
            return None
        raise
    summaries = page.get("ModelPackageSummaryList", [])
    if not summaries:
        return None
    arn = summaries[0]["ModelPackageArn"]
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    statistics = described.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {})
    return ApprovedModel(model_package_arn=arn, evaluation_uri=statistics.get("S3Uri"))
