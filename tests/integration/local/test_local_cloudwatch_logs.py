"""Local mode writes job and function logs while clients read them: a read never fails on a write beside it."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

from driftline.local import cloudwatch_logs, request_constraints
from tests.conftest import REGION
from tests.integration.local.interleaving import read_while_writing

FUNCTION_GROUP = "/aws/lambda/driftline-Validate"


@pytest.fixture
def local_logs(aws: None) -> Iterator[None]:
    """The lock, installed before the checks of every request, as local mode installs them."""
    request_constraints.uninstall()
    cloudwatch_logs.install()
    request_constraints.install()
    try:
        yield
    finally:
        cloudwatch_logs.uninstall()


@pytest.mark.usefixtures("local_logs")
def test_a_logs_request_aws_refuses_is_still_refused_under_the_lock() -> None:
    logs = boto3.client("logs", region_name=REGION)

    with pytest.raises(ClientError) as refused:
        logs.create_log_group(logGroupName="/aws/lambda/" + "x" * 600)

    assert "512" in str(refused.value)


@pytest.mark.usefixtures("local_logs")
def test_reading_logs_while_local_mode_writes_new_groups_and_streams_never_fails() -> None:
    """Without one lock over the emulator's reads and local mode's writes, a read iterates the groups while a job
    adds one and fails with a 500 ("dictionary changed size during iteration") that local mode's terminal
    prints: here, nearly every read failed so."""
    logs = boto3.client("logs", region_name=REGION)
    for number in range(500):
        cloudwatch_logs.put_lines(REGION, f"/aws/sagemaker/ProcessingJobs-{number}", "algo-1", ["earlier job"])
    cloudwatch_logs.put_lines(REGION, FUNCTION_GROUP, "stream-0", ["first line"])

    def read() -> None:
        assert len(logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]) == 1
        [event] = logs.filter_log_events(logGroupName=FUNCTION_GROUP, logStreamNames=["stream-0"])["events"]
        assert event["message"] == "first line"

    def write(number: int) -> None:
        cloudwatch_logs.put_lines(REGION, f"/aws/sagemaker/TrainingJobs-{number}", "algo-1", ["a line"])
        cloudwatch_logs.put_lines(REGION, FUNCTION_GROUP, f"stream-{number + 1}", ["a line"])

    written = read_while_writing(read, write)

    groups = logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix="/aws/sagemaker/TrainingJobs-")
    assert sum(len(page["logGroups"]) for page in groups) == written > 0
