"""Fixtures the handler tests share: the resources and environment the template gives the job functions, and the
notification topic with a queue standing in for its email subscriber."""

from __future__ import annotations

import boto3
import pytest

from tests.integration.pipeline_resources import create_pipeline_resources


@pytest.fixture
def pipeline(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Buckets, the job-token table, the run's config and the job functions' environment, under moto."""
    create_pipeline_resources(monkeypatch)


@pytest.fixture
def queue_url(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """A queue subscribed to the notification topic, standing in for an email subscriber."""
    sns = boto3.client("sns")
    sqs = boto3.client("sqs")
    topic_arn = sns.create_topic(Name="driftline-notifications")["TopicArn"]
    url: str = sqs.create_queue(QueueName="driftline-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    monkeypatch.setenv("NOTIFICATION_TOPIC_ARN", topic_arn)
    return url
