"""Reads that iterate a service's resources while another request adds one: local mode answers them as AWS does,
instead of failing with a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from driftline.local import consistent_reads
from tests.conftest import REGION
from tests.integration.local.interleaving import read_while_writing

DEPLOYMENT_PAUSE = 0.005
"""Deployments and jobs write now and then, not without a pause: between writes, a retried read gets its turn."""
ROLE = "arn:aws:iam::123456789012:role/driftline-sagemaker"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"


@pytest.fixture
def local_reads(aws: None) -> Iterator[None]:
    consistent_reads.install()
    try:
        yield
    finally:
        consistent_reads.uninstall()


def _model(sagemaker: Any, name: str) -> None:
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})


@pytest.mark.usefixtures("local_reads")
def test_listing_models_while_a_deployment_creates_them_never_fails() -> None:
    """Without the retry, most ListModels failed so (dictionary changed size during iteration)."""
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    for number in range(100):
        _model(sagemaker, f"driftline-credit-v{number}")
    writer = boto3.client("sagemaker", region_name=REGION)

    made = read_while_writing(
        lambda: sagemaker.list_models(NameContains="driftline-credit-v1"),
        lambda number: _model(writer, f"driftline-tumours-v{number}"),
        pause=DEPLOYMENT_PAUSE,
    )

    listed = [
        model["ModelName"]
        for page in sagemaker.get_paginator("list_models").paginate()
        for model in page["Models"]
        if model["ModelName"].startswith("driftline-tumours-v")
    ]
    assert len(listed) == made > 0


@pytest.mark.usefixtures("local_reads")
def test_describing_alarms_while_a_deployment_puts_them_never_fails() -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    writer = boto3.client("cloudwatch", region_name=REGION)

    def alarm(client: Any, name: str) -> None:
        client.put_metric_alarm(
            AlarmName=name,
            Namespace="AWS/SageMaker",
            MetricName="Invocation5XXErrors",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
        )

    for number in range(300):
        alarm(cloudwatch, f"driftline-credit-{number}")

    made = read_while_writing(
        lambda: cloudwatch.describe_alarms(AlarmNamePrefix="driftline-credit-1"),
        lambda number: alarm(writer, f"driftline-tumours-{number}"),
        pause=DEPLOYMENT_PAUSE,
    )

    assert made > 0


def test_only_reads_are_answered_again() -> None:
    class Named:
        def __init__(self, action: str) -> None:
            self.action = action

        def _get_action(self) -> str:
            return self.action

    reads = ["ListModels", "DescribeAlarms", "GetMetricStatistics", "FilterLogEvents", "SearchTrainingPlanOfferings"]
    writes = ["CreateModel", "PutMetricAlarm", "UpdateEndpoint", "DeleteModel", "StartExecution"]
    assert all(consistent_reads.is_read(Named(action)) for action in reads)  # type: ignore[arg-type]
    assert not any(consistent_reads.is_read(Named(action)) for action in writes)  # type: ignore[arg-type]
    assert consistent_reads.changed_while_read(RuntimeError("dictionary changed size during iteration"))
    assert not consistent_reads.changed_while_read(RuntimeError("something else"))
