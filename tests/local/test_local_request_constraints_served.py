"""Local mode's server refuses requests AWS would refuse, in AWS's words, over HTTP as clients send them, and
accepts the project's own requests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.moto_api._internal.models import moto_api_backend

from driftline.local import request_constraints
from tests.aws_refusals import UNCHECKED_BY_CLIENT, model_pattern, refusal
from tests.conftest import REGION
from tests.job_requests import job_settings, preprocess_request, training_request


@pytest.fixture
def server(endpoint_url: str) -> Iterator[str]:
    """The module's server with local mode's request checks installed, its backends empty for each test."""
    moto_api_backend.reset()
    request_constraints.install()
    try:
        yield endpoint_url
    finally:
        request_constraints.uninstall()
        moto_api_backend.reset()


def client(service: str, endpoint_url: str, **kwargs: Any) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        **kwargs,
    )


def test_the_local_server_refuses_a_bad_job_name_as_aws_does(server: str) -> None:
    request = training_request(job_settings()) | {"TrainingJobName": "credit_2026"}

    answer = refusal(lambda: client("sagemaker", server).create_training_job(**request))

    pattern = model_pattern("sagemaker", "CreateTrainingJob", "TrainingJobName")
    assert answer == {
        "status": 400,
        "code": "ValidationException",
        "message": "1 validation error detected: Value 'credit_2026' at 'trainingJobName' failed to satisfy "
        f"constraint: Member must satisfy regular expression pattern: {pattern}",
    }


def test_the_local_server_checks_query_rest_and_s3_requests(server: str) -> None:
    sns = client("sns", server, config=UNCHECKED_BY_CLIENT)
    topic = client("sns", server).create_topic(Name="driftline")["TopicArn"]

    sns_answer = refusal(
        lambda: sns.publish(TopicArn=topic, Message="m", MessageAttributes={"run": {"StringValue": "1"}})
    )
    lambda_answer = refusal(lambda: client("lambda", server).invoke(FunctionName="driftline validate"))
    s3_answer = refusal(lambda: client("s3", server).create_bucket(Bucket="Driftline_Data"))

    assert sns_answer["code"] == "ValidationError"
    assert sns_answer["message"] == (
        "1 validation error detected: Value null at 'messageAttributes.run.member.dataType' "
        "failed to satisfy constraint: Member must not be null"
    )
    assert lambda_answer["code"] == "ValidationException"
    assert s3_answer["code"] == "InvalidBucketName"


def test_the_local_server_accepts_the_projects_own_requests(server: str) -> None:
    sagemaker = client("sagemaker", server)

    sagemaker.create_processing_job(**preprocess_request(job_settings()))

    assert sagemaker.describe_processing_job(ProcessingJobName="credit-5e4f54c7bade-preprocess")["ProcessingJobName"]


KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_the_local_server_refuses_a_volume_key_with_instance_storage_as_sagemaker_does(server: str) -> None:
    sagemaker = client("sagemaker", server)
    on_g5 = job_settings().model_copy(update={"training_instance_type": "ml.g5.xlarge"})
    request = training_request(on_g5)
    request["ResourceConfig"]["VolumeKmsKeyId"] = KEY
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": "m",
        "InstanceType": "ml.p4d.24xlarge",
        "InitialInstanceCount": 1,
    }

    training_answer = refusal(lambda: sagemaker.create_training_job(**request))
    endpoint_answer = refusal(
        lambda: sagemaker.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[variant], KmsKeyId=KEY)
    )

    assert training_answer["status"] == endpoint_answer["status"] == 400
    assert training_answer["code"] == endpoint_answer["code"] == "ValidationException"
    assert "VolumeKmsKeyId" in training_answer["message"] and "ml.g5.xlarge" in training_answer["message"]
    assert "KmsKeyId" in endpoint_answer["message"] and "ml.p4d.24xlarge" in endpoint_answer["message"]


def test_the_local_server_accepts_the_projects_requests_with_a_key_on_instance_storage(server: str) -> None:
    sagemaker = client("sagemaker", server)
    on_g5 = job_settings().model_copy(update={"kms_key_arn": KEY, "training_instance_type": "ml.g5.xlarge"})

    sagemaker.create_training_job(**training_request(on_g5))

    assert sagemaker.describe_training_job(TrainingJobName=training_request(on_g5)["TrainingJobName"])
