"""What IAM evaluates for a request: the action and resource ARNs from the Service Authorization Reference."""

from __future__ import annotations

from typing import Any

import pytest

from driftline.local.iam_requests import RequestFacts, authorization_requests, iam_action

ACCOUNT = "123456789012"
REGION = "eu-west-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/driftline-sagemaker"


def evaluated(prefix: str, operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    facts = RequestFacts(prefix, operation, params, REGION, ACCOUNT)
    return [(request.action, request.resource) for request in authorization_requests(facts)]


def sagemaker_arn(resource: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{resource}"


def test_a_job_is_evaluated_on_its_arn_and_the_role_it_passes_with_the_service_named() -> None:
    facts = RequestFacts(
        "sagemaker",
        "CreateProcessingJob",
        {"ProcessingJobName": "credit-1a2b-preprocess", "RoleArn": ROLE},
        REGION,
        ACCOUNT,
    )
    job, pass_role = authorization_requests(facts)
    assert (job.action, job.resource) == (
        "sagemaker:CreateProcessingJob",
        sagemaker_arn("processing-job/credit-1a2b-preprocess"),
    )
    assert (pass_role.action, pass_role.resource) == ("iam:PassRole", ROLE)
    assert pass_role.context["iam:passedtoservice"] == ["sagemaker.amazonaws.com"]


def test_every_resource_type_a_request_names_is_evaluated() -> None:
    assert evaluated(
        "sagemaker", "CreateEndpoint", {"EndpointName": "s-credit", "EndpointConfigName": "s-credit-v3"}
    ) == [
        ("sagemaker:CreateEndpoint", sagemaker_arn("endpoint/s-credit")),
        ("sagemaker:CreateEndpoint", sagemaker_arn("endpoint-config/s-credit-v3")),
    ]


def test_tags_given_on_create_are_evaluated_as_add_tags_on_the_new_resource() -> None:
    requests = evaluated("sagemaker", "CreateModel", {"ModelName": "s-credit-v3", "Tags": [{"Key": "k", "Value": "v"}]})
    assert ("sagemaker:AddTags", sagemaker_arn("model/s-credit-v3")) in requests


def test_an_arn_member_of_the_request_is_the_resource_itself() -> None:
    package = sagemaker_arn("model-package/s-credit/7")
    assert evaluated("sagemaker", "UpdateModelPackage", {"ModelPackageArn": package}) == [
        ("sagemaker:UpdateModelPackage", package)
    ]
    execution = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:s-pipeline:run-1"
    assert evaluated("states", "DescribeExecution", {"executionArn": execution}) == [
        ("states:DescribeExecution", execution)
    ]


def test_a_new_package_version_is_evaluated_under_its_group_name() -> None:
    assert evaluated("sagemaker", "CreateModelPackage", {"ModelPackageGroupName": "s-credit"}) == [
        ("sagemaker:CreateModelPackage", sagemaker_arn("model-package/s-credit"))
    ]


def test_a_list_over_a_resource_type_is_evaluated_on_its_whole_arn_space() -> None:
    assert evaluated("sagemaker", "ListModelPackages", {"SortBy": "CreationTime"}) == [
        ("sagemaker:ListModelPackages", sagemaker_arn("model-package/*"))
    ]
    assert evaluated("cloudwatch", "DescribeAlarms", {"AlarmNamePrefix": "s-"}) == [
        ("cloudwatch:DescribeAlarms", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:*")
    ]


def test_a_list_of_names_is_one_resource_each() -> None:
    assert evaluated("cloudwatch", "DescribeAlarms", {"AlarmNames": ["a", "b"]}) == [
        ("cloudwatch:DescribeAlarms", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:a"),
        ("cloudwatch:DescribeAlarms", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:b"),
    ]


def test_an_action_without_resource_types_is_evaluated_on_star_with_its_condition_keys() -> None:
    facts = RequestFacts("cloudwatch", "PutMetricData", {"Namespace": "Driftline/DataDrift/s"}, REGION, ACCOUNT)
    [request] = authorization_requests(facts)
    assert request.action == "cloudwatch:PutMetricData"
    assert request.context["cloudwatch:namespace"] == ["Driftline/DataDrift/s"]


def test_api_defaults_fill_what_the_request_leaves_out() -> None:
    assert evaluated("events", "PutEvents", {"Entries": [{"Source": "driftline"}]}) == [
        ("events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default")
    ]
    schedule = {"Name": "s-credit-drift", "Target": {"Arn": "x", "RoleArn": ROLE}}
    assert evaluated("scheduler", "CreateSchedule", schedule) == [
        ("scheduler:CreateSchedule", f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/s-credit-drift"),
        ("iam:PassRole", ROLE),
    ]


def test_a_member_named_for_the_end_of_the_resource_name_names_the_resource() -> None:
    request = {"JobDefinitionName": "s-credit-v3-dq", "RoleArn": ROLE}
    assert evaluated("sagemaker", "CreateDataQualityJobDefinition", request)[0] == (
        "sagemaker:CreateDataQualityJobDefinition",
        sagemaker_arn("data-quality-job-definition/s-credit-v3-dq"),
    )


def test_lambda_invoke_is_the_invoke_function_action_on_the_function_named_or_qualified() -> None:
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:s-Validate"
    assert evaluated("lambda", "Invoke", {"FunctionName": "s-Validate"}) == [("lambda:InvokeFunction", function)]
    assert evaluated("lambda", "Invoke", {"FunctionName": function + ":live"}) == [
        ("lambda:InvokeFunction", function + ":live")
    ]


def test_an_operation_missing_from_the_reference_is_an_error_not_an_allow() -> None:
    with pytest.raises(LookupError, match="sagemaker:NoSuchOperation"):
        iam_action("sagemaker", "NoSuchOperation")
