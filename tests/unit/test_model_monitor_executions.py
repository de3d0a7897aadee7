"""A Model Monitor execution is recognised by the ``MonitoringScheduleArn`` SageMaker gives its processing job (and so
its "SageMaker Processing Job State Change" event): one of this stack's schedules, in the stack's account and region,
named as the stack names the schedule of the endpoint the execution watched."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from driftline_core import layout
from driftline_core.aws.arns import Arn, parse_arn
from driftline_core.drift.model_monitor import execution_schedule
from tests.conftest import load_event
from tests.resource_names import DATASETS, LONGEST_STACK

HOME = parse_arn("arn:aws:lambda:us-east-1:123456789012:function:driftline-StartMonitoring")
SCHEDULES = "arn:aws:sagemaker:us-east-1:123456789012:monitoring-schedule/"
SCHEDULE = "monitoring-schedule/driftline-credit-drift-monitor"


def execution(**detail: Any) -> dict[str, Any]:
    """The sample execution's event detail, with ``detail`` replaced."""
    event = copy.deepcopy(load_event("sagemaker_model_monitor_execution_completed"))
    return dict(event["detail"]) | detail


def with_endpoint(endpoint: str, **detail: Any) -> dict[str, Any]:
    sample = execution(**detail)
    return sample | {"Environment": {**sample["Environment"], "sagemaker_endpoint_name": endpoint}}


def test_the_sample_execution_is_one_of_this_stacks_schedules_by_its_schedule_arn() -> None:
    detail = execution()
    assert detail["MonitoringScheduleArn"] == f"{SCHEDULES}driftline-credit-drift-monitor"

    assert execution_schedule(detail, stack="driftline", home=HOME) == "driftline-credit-drift-monitor"


def test_the_schedule_is_the_arns_not_the_one_its_environment_names() -> None:
    """The environment's schedule variable is what the container reads, not what identifies the execution."""
    detail = execution()
    detail["Environment"] = {**detail["Environment"], "sagemaker_monitoring_schedule_name": "something-else"}

    assert execution_schedule(detail, stack="driftline", home=HOME) == "driftline-credit-drift-monitor"


@pytest.mark.parametrize(
    "detail",
    [
        # Another stack's schedule and endpoint.
        with_endpoint("other-credit", MonitoringScheduleArn=f"{SCHEDULES}other-credit-drift-monitor"),
        # This stack's prefix, but not the schedule this stack builds for the endpoint.
        execution(MonitoringScheduleArn=f"{SCHEDULES}driftline-credit-hourly"),
        with_endpoint("driftline-churn"),
        # The schedule this stack would build, in another account, region or partition.
        execution(MonitoringScheduleArn=f"arn:aws:sagemaker:us-east-1:210987654321:{SCHEDULE}"),
        execution(MonitoringScheduleArn=f"arn:aws:sagemaker:eu-west-1:123456789012:{SCHEDULE}"),
        execution(MonitoringScheduleArn=f"arn:aws-cn:sagemaker:us-east-1:123456789012:{SCHEDULE}"),
        # Not a monitoring schedule's ARN.
        execution(MonitoringScheduleArn="arn:aws:sagemaker:us-east-1:123456789012:endpoint/driftline-credit"),
        execution(MonitoringScheduleArn="driftline-credit-drift-monitor"),
        # The endpoint it watched is unknown.
        execution(Environment={}),
    ],
)
def test_an_execution_of_any_other_schedule_is_not_this_stacks(detail: dict[str, Any]) -> None:
    assert execution_schedule(detail, stack="driftline", home=HOME) is None


def test_jobs_without_a_schedule_arn_are_no_model_monitor_executions() -> None:
    """Driftline's own monitor jobs give their container Model Monitor's variables, schedule name included: they
    are still not executions."""
    preprocess = load_event("sagemaker_processing_job_failed")["detail"]
    own_monitor = preprocess | {
        "ProcessingJobName": "driftline-credit-monitor-202611231600",
        "Environment": {
            "sagemaker_endpoint_name": "driftline-credit",
            "sagemaker_monitoring_schedule_name": "driftline-credit-drift-monitor",
        },
    }

    assert execution_schedule(preprocess, stack="driftline", home=HOME) is None
    assert execution_schedule(own_monitor, stack="driftline", home=HOME) is None


def test_without_the_functions_own_arn_no_execution_is_recognised() -> None:
    assert execution_schedule(execution(), stack="driftline", home=None) is None


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_schedule_name_the_stack_builds_is_recognised_under_the_longest_stack_name(dataset: str) -> None:
    endpoint = layout.endpoint_name(LONGEST_STACK, dataset)
    schedule = layout.monitoring_schedule_name(endpoint, stack=LONGEST_STACK)
    detail = with_endpoint(endpoint, MonitoringScheduleArn=f"{SCHEDULES}{schedule}")

    assert execution_schedule(detail, stack=LONGEST_STACK, home=HOME) == schedule
    assert execution_schedule(detail, stack="driftline", home=HOME) is None


def test_an_arn_has_its_parts_and_a_text_that_is_no_arn_has_none() -> None:
    assert parse_arn(f"{SCHEDULES}driftline-credit-drift-monitor") == Arn(
        partition="aws",
        service="sagemaker",
        region="us-east-1",
        account="123456789012",
        resource="monitoring-schedule/driftline-credit-drift-monitor",
    )
    assert parse_arn("arn:aws:iam::123456789012:role/driftline-sagemaker") == Arn(
        "aws", "iam", "", "123456789012", "role/driftline-sagemaker"
    )
    for text in ("", "driftline-credit", "arn:aws:sagemaker", "arn::sagemaker:us-east-1:1:x", "urn:a:b:c:d:e"):
        assert parse_arn(text) is None, text
