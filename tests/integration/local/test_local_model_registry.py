"""The local Model Registry names who created and who last changed a package as AWS does for an IAM caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from driftline_core.approval.decisions import registry_status

GROUP = "driftline-credit"
INFERENCE = {
    "Containers": [{"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"}],
    "SupportedContentTypes": ["text/csv"],
    "SupportedResponseMIMETypes": ["text/csv"],
}


@pytest.fixture
def registry(aws: None) -> Iterator[Any]:
    from driftline.local import model_registry, seams

    model_registry.install()
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    try:
        yield sagemaker
    finally:
        seams.restore()


def _package(sagemaker: Any) -> str:
    created = sagemaker.create_model_package(
        ModelPackageGroupName=GROUP, ModelApprovalStatus="PendingManualApproval", InferenceSpecification=INFERENCE
    )
    return str(created["ModelPackageArn"])


def test_a_package_names_its_iam_caller_and_no_studio_user(registry: Any) -> None:
    caller = boto3.client("sts").get_caller_identity()["Arn"]
    arn = _package(registry)
    registry.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")

    described = registry.describe_model_package(ModelPackageName=arn)
    for field in ("CreatedBy", "LastModifiedBy"):
        assert described[field]["IamIdentity"]["Arn"] == caller
        assert "UserProfileName" not in described[field]
    assert registry_status(arn) is not None
    assert registry_status(arn).modified_by == caller.rsplit("/", 1)[-1]  # type: ignore[union-attr]


def test_a_change_made_with_a_roles_credentials_names_the_assumed_role_session(registry: Any) -> None:
    from driftline.local import iam

    role = boto3.client("iam").create_role(RoleName="driftline-ApprovalApiRole", AssumeRolePolicyDocument="{}")
    session = iam.role_session(role["Role"]["Arn"], "driftline-ApprovalApi")
    arn = _package(registry)
    as_role = boto3.session.Session(
        aws_access_key_id=session.access_key_id,
        aws_secret_access_key=session.secret_access_key,
        aws_session_token=session.session_token,
        region_name="us-east-1",
    ).client("sagemaker")
    as_role.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected", ApprovalDescription="too noisy")

    modified_by = registry.describe_model_package(ModelPackageName=arn)["LastModifiedBy"]
    assert modified_by["IamIdentity"]["Arn"] == (
        "arn:aws:sts::123456789012:assumed-role/driftline-ApprovalApiRole/driftline-ApprovalApi"
    )
    assert modified_by["IamIdentity"]["PrincipalId"].endswith(":driftline-ApprovalApi")
    found = registry_status(arn)
    assert found is not None
    assert (found.modified_by, found.reason) == ("driftline-ApprovalApi", "too noisy")


def test_the_name_driftline_wrote_into_the_description_is_the_approver(registry: Any) -> None:
    arn = _package(registry)
    registry.update_model_package(
        ModelPackageArn=arn,
        ModelApprovalStatus="Approved",
        ApprovalDescription="Approved by maria with driftline approve: recall is fine now",
    )

    found = registry_status(arn)
    assert found is not None
    assert (found.status, found.modified_by, found.reason) == ("Approved", "maria", "recall is fine now")
