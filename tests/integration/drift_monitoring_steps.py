"""The drift monitor's world under moto, as the drift monitoring tests share it: the served endpoint, a
finished deployment of it, the objects the monitor reads and the jobs it starts, and the notification inbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from tests.conftest import REGION, FakeLambdaContext, load_event
from tests.integration.pipeline_resources import ARTIFACT_BUCKET, EXECUTION

ENDPOINT = "driftline-credit"
SCHEDULE = "driftline-credit-drift-monitor"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:driftline-StartMonitoring"
SCHEDULER_ROLE = "arn:aws:iam::123456789012:role/driftline-monitoring-scheduler"
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-credit/3"
BASELINE = f"s3://{ARTIFACT_BUCKET}/runs/{EXECUTION}/baseline/"


def serve_endpoint() -> None:
    """The dataset's endpoint, as a deployment leaves it: the monitor watches only an endpoint that exists."""
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    sagemaker.create_model(
        ModelName=f"{ENDPOINT}-v3",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/driftline-sagemaker",
        PrimaryContainer={"ModelPackageName": PACKAGE},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{ENDPOINT}-v3",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{ENDPOINT}-v3",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{ENDPOINT}-v3")


def finish(package_arn: str = PACKAGE, endpoint_type: str = "Provisioned") -> dict[str, Any]:
    from functions.finish_deployment import app

    event = {k: load_event("deploy")[k] for k in ("execution_id", "execution_name", "dataset", "data")}
    deployment = {
        "endpoint_name": ENDPOINT,
        "endpoint_arn": f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{ENDPOINT}",
        "endpoint_config_name": f"{ENDPOINT}-v3",
        "model_name": f"{ENDPOINT}-v3",
        "model_package_arn": package_arn,
        "action": "created",
        "endpoint_type": endpoint_type,
        "data_capture_uri": f"s3://{ARTIFACT_BUCKET}/capture/credit" if endpoint_type == "Provisioned" else None,
    }
    context: Any = FakeLambdaContext()
    result: dict[str, Any] = app.lambda_handler(event | {"deployment": deployment}, context)
    return result


def put(key: str, body: str = "{}") -> None:
    boto3.client("s3", region_name=REGION).put_object(Bucket=ARTIFACT_BUCKET, Key=key, Body=body.encode())


def processing_jobs() -> list[dict[str, Any]]:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    names = [job["ProcessingJobName"] for job in sagemaker.list_processing_jobs()["ProcessingJobSummaries"]]
    return [dict(sagemaker.describe_processing_job(ProcessingJobName=name)) for name in sorted(names)]


def subscribe_inbox(monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[dict[str, Any]]]:
    """The notification topic with a queue subscribed; returns what its subscribers have received since."""
    from driftline_core.settings import reset_settings

    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="driftline-notifications")["TopicArn"]
    queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    monkeypatch.setenv("NOTIFICATION_TOPIC_ARN", topic)
    reset_settings()

    def received() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
        return list(messages.get("Messages", []))

    return received
