"""How the request-constraint tests ask for AWS's refusals: the settings their job requests are built with, the
pattern a service model declares for a member, a refused call's answer, and a client config that sends what boto3
itself would refuse."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from driftline_core.settings import Settings

ARTIFACTS = "driftline-artifacts-123456789012-us-east-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/driftline-sagemaker-execution"
UNCHECKED_BY_CLIENT = Config(parameter_validation=False)
"""boto3 itself refuses missing members and short values; these clients send them so the emulator answers."""


def settings() -> Settings:
    """The settings the project's own job requests are built with in these tests."""
    return Settings(
        data_bucket="driftline-data-123456789012-us-east-1",
        artifact_bucket=ARTIFACTS,
        sagemaker_role_arn=ROLE_ARN,
        ml_code_uri=f"s3://{ARTIFACTS}/code/3f9c2a7d51e0/",
        ml_code_version="3f9c2a7d51e0",
        training_image_uri="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
        processing_image_uri="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
        training_instance_type="ml.m5.xlarge",
        processing_instance_type="ml.m5.large",
        max_job_runtime_seconds=1800,
    )


def model_pattern(service: str, operation: str, *path: str) -> str:
    """The pattern the service model declares for a member, as AWS quotes it in its message."""
    shape: Any = botocore.session.get_session().get_service_model(service).operation_model(operation).input_shape
    for name in path:
        shape = shape.member if name == "member" else shape.members[name]
    return str(shape.metadata["pattern"])


def refusal(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return {
        "status": response["ResponseMetadata"]["HTTPStatusCode"],
        "code": response["Error"]["Code"],
        "message": response["Error"]["Message"],
    }
