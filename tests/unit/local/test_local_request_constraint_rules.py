"""The rules local mode checks requests by, on their own: S3's bucket naming rules, and the service models' Java
patterns translated to Python and matched on whole values as AWS matches them."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest

from driftline.local import request_constraints
from driftline.local.request_constraints import java_pattern

SERVICES_THE_PROJECT_CALLS = [
    "sagemaker",
    "sagemaker-runtime",
    "s3",
    "stepfunctions",
    "dynamodb",
    "sns",
    "lambda",
    "iam",
    "cloudformation",
    "events",
    "logs",
    "sqs",
    "sts",
]


@pytest.mark.parametrize(
    "name",
    ["ab", "a" * 64, "data..bucket", "192.168.5.4", "xn--data", "sthree-data", "data-s3alias", "-data", "data."],
)
def test_bucket_names_breaking_each_s3_naming_rule_are_refused(name: str) -> None:
    assert request_constraints.bucket_name_problem(name) is not None


def test_every_pattern_of_the_services_the_project_calls_translates_to_python() -> None:
    session = botocore.session.get_session()
    patterns = {
        shape.metadata["pattern"]
        for service in SERVICES_THE_PROJECT_CALLS
        for model in [session.get_service_model(service)]
        for shape in (model.shape_for(name) for name in model.shape_names)
        if "pattern" in shape.metadata
    }

    untranslated = [pattern for pattern in patterns if java_pattern(pattern) is None]

    assert len(patterns) > 400
    assert untranslated == []


@pytest.mark.parametrize(
    ("pattern", "accepted", "refused"),
    [
        ("[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*", "tab\tand 😀", "bell\x07"),
        ("[\\w-_]*", "a-b_c", "a.b"),
        ("\\A\\S[\\p{Print}]*\\z", "text/csv", " leading"),
        ("([\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@]*)${1,256}", "Ünïcode: 1", "comma,"),
        ("[a-zA-Z0-9_.-]+", "table", '"table"'),
    ],
)
def test_java_patterns_match_whole_values_as_aws_matches_them(pattern: str, accepted: str, refused: str) -> None:
    compiled = java_pattern(pattern)

    assert compiled is not None
    assert compiled.fullmatch(accepted)
    assert not compiled.fullmatch(refused)


KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _endpoint_config(instance_type: str, **extra: str) -> dict[str, object]:
    variant = {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": instance_type, "InitialInstanceCount": 1}
    return {"EndpointConfigName": "c", "ProductionVariants": [variant], **extra}


@pytest.mark.parametrize("instance_type", ["ml.g5.xlarge", "ml.p4d.24xlarge", "ml.m5d.large", "ml.g6.xlarge"])
def test_an_endpoint_config_key_with_instance_storage_is_refused_naming_variant_and_type(instance_type: str) -> None:
    problem = request_constraints.volume_key_problem(
        "CreateEndpointConfig", _endpoint_config(instance_type, KmsKeyId=KEY)
    )

    assert problem is not None
    assert "KmsKeyId" in problem and "'AllTraffic'" in problem and instance_type in problem


@pytest.mark.parametrize("instance_type", ["ml.m5.large", "ml.c5.xlarge", "ml.p3.2xlarge"])
def test_an_endpoint_config_key_on_ebs_and_a_config_without_key_are_accepted(instance_type: str) -> None:
    assert (
        request_constraints.volume_key_problem("CreateEndpointConfig", _endpoint_config(instance_type, KmsKeyId=KEY))
        is None
    )
    assert request_constraints.volume_key_problem("CreateEndpointConfig", _endpoint_config("ml.g5.xlarge")) is None


@pytest.mark.parametrize(
    ("operation", "request_with"),
    [
        ("CreateTrainingJob", lambda resources: {"ResourceConfig": resources}),
        ("CreateProcessingJob", lambda resources: {"ProcessingResources": {"ClusterConfig": resources}}),
        ("CreateDataQualityJobDefinition", lambda resources: {"JobResources": {"ClusterConfig": resources}}),
        (
            "CreateMonitoringSchedule",
            lambda resources: {
                "MonitoringScheduleConfig": {
                    "MonitoringJobDefinition": {"MonitoringResources": {"ClusterConfig": resources}}
                }
            },
        ),
    ],
)
def test_a_job_volume_key_is_refused_only_with_instance_storage(operation: str, request_with: Any) -> None:
    def problem(instance_type: str, **key: str) -> str | None:
        resources = {"InstanceType": instance_type, "InstanceCount": 1, "VolumeSizeInGB": 30, **key}
        return request_constraints.volume_key_problem(operation, request_with(resources))

    refused = problem("ml.g5.xlarge", VolumeKmsKeyId=KEY)
    assert refused is not None and "VolumeKmsKeyId" in refused and "ml.g5.xlarge" in refused
    assert problem("ml.m5.large", VolumeKmsKeyId=KEY) is None
    assert problem("ml.g5.xlarge") is None


def test_a_training_volume_key_is_refused_when_any_instance_group_has_instance_storage() -> None:
    groups = [
        {"InstanceGroupName": "a", "InstanceType": "ml.m5.large"},
        {"InstanceGroupName": "b", "InstanceType": "ml.p5.48xlarge"},
    ]
    refused = request_constraints.volume_key_problem(
        "CreateTrainingJob", {"ResourceConfig": {"InstanceGroups": groups, "VolumeKmsKeyId": KEY}}
    )
    assert refused is not None and "ml.p5.48xlarge" in refused


def test_instance_storage_is_read_from_ec2s_description_of_the_host_type() -> None:
    assert request_constraints.has_instance_storage("ml.c5d.xlarge")
    assert not request_constraints.has_instance_storage("ml.c5.xlarge")
    assert not request_constraints.has_instance_storage("ml.zz9.large")  # a type EC2 does not describe
    assert not request_constraints.has_instance_storage("c5d.xlarge")
