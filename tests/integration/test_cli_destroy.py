"""``driftline destroy`` on AWS (under moto): the stack goes, then what its runs created; the data bucket stays
unless ``--delete-data``; another stack whose name starts with ``<stack>-`` keeps its resources."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core.responses import ActionResult, EmptyResult
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.responses import SageMakerResponse

from driftline.cli import main

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/driftline-SageMakerExecutionRole"
RUN = "credit-0123456789ab"
TEMPLATE = {
    "Resources": {
        name: {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
        for name in ("DataBucket", "ArtifactBucket", "AccessLogsBucket")
    },
}


def _delete_model_package(self: SageMakerResponse) -> ActionResult:
    """DeleteModelPackage, which moto lacks: the package goes, by name or ARN."""
    backend = self.sagemaker_backend
    name = self._get_param("ModelPackageName")
    arn = backend.model_package_name_mapping.get(name, name)
    if backend.model_packages.pop(arn, None) is None:
        raise ValidationError(message=f"Model package {name} does not exist.")
    return EmptyResult()


def _delete_model_package_group(self: SageMakerResponse) -> ActionResult:
    """DeleteModelPackageGroup, which moto lacks: refused while the group holds packages, as SageMaker does."""
    backend = self.sagemaker_backend
    name = self._get_param("ModelPackageGroupName")
    if any(package.model_package_group_name == name for package in backend.model_packages.values()):
        raise ValidationError(message=f"Model package group {name} still has model packages.")
    backend.model_package_groups.pop(name)
    return EmptyResult()


@pytest.fixture
def stack(aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A deployed stack ``driftline`` after a run deployed a model; a stack ``driftline-dev`` beside it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(SageMakerResponse, "delete_model_package", _delete_model_package, raising=False)
    monkeypatch.setattr(SageMakerResponse, "delete_model_package_group", _delete_model_package_group, raising=False)
    cloudformation, s3 = boto3.client("cloudformation"), boto3.client("s3")
    sfn = boto3.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="driftline-pipeline",
        definition=json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 600, "End": True}}}),
        roleArn=ROLE,
    )["stateMachineArn"]
    template = dict(
        TEMPLATE,
        Outputs={
            "DataBucketName": {"Value": {"Ref": "DataBucket"}},
            "ArtifactBucketName": {"Value": {"Ref": "ArtifactBucket"}},
            "PipelineStateMachineArn": {"Value": machine},
        },
    )
    cloudformation.create_stack(StackName="driftline", TemplateBody=json.dumps(template))
    cloudformation.create_stack(
        StackName="driftline-dev", TemplateBody=json.dumps({"Resources": {"T": {"Type": "AWS::SNS::Topic"}}})
    )
    names = {
        o["OutputKey"]: o["OutputValue"]
        for o in cloudformation.describe_stacks(StackName="driftline")["Stacks"][0]["Outputs"]
    }
    names["AccessLogsBucket"] = cloudformation.describe_stack_resource(
        StackName="driftline", LogicalResourceId="AccessLogsBucket"
    )["StackResourceDetail"]["PhysicalResourceId"]
    for bucket in (names["DataBucketName"], names["ArtifactBucketName"], names["AccessLogsBucket"]):
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_object(Bucket=bucket, Key="data/credit/a.csv", Body=b"a,b\n1,2\n")
        s3.put_object(Bucket=bucket, Key="data/credit/a.csv", Body=b"a,b\n1,3\n")
        s3.delete_object(Bucket=bucket, Key="data/credit/a.csv")  # a delete marker over two versions
    names["run"] = sfn.start_execution(stateMachineArn=machine, name=RUN, input="{}")["executionArn"]

    sagemaker: Any = boto3.client("sagemaker")
    container = {"Image": "123.dkr.ecr.us-east-1.amazonaws.com/sklearn:1", "ModelDataUrl": "s3://a/model.tar.gz"}
    for stack_name in ("driftline", "driftline-dev"):
        model = f"{stack_name}-credit-v1"
        sagemaker.create_model(ModelName=model, PrimaryContainer=container, ExecutionRoleArn=ROLE)
        variant = {
            "VariantName": "AllTraffic",
            "ModelName": model,
            "InstanceType": "ml.m5.large",
            "InitialInstanceCount": 1,
        }
        sagemaker.create_endpoint_config(EndpointConfigName=model, ProductionVariants=[variant])
        sagemaker.create_endpoint(EndpointName=f"{stack_name}-credit", EndpointConfigName=model)
        sagemaker.create_model_package_group(ModelPackageGroupName=f"{stack_name}-credit")
        sagemaker.create_model_package(
            ModelPackageGroupName=f"{stack_name}-credit",
            InferenceSpecification={
                "Containers": [container],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )
        boto3.client("cloudwatch").put_metric_alarm(
            AlarmName=f"{stack_name}-drift-credit",
            MetricName="feature_baseline_drift_income",
            Namespace="Driftline",
            Statistic="Maximum",
            Period=3600,
            EvaluationPeriods=1,
            Threshold=0.1,
            ComparisonOperator="GreaterThanThreshold",
        )
        boto3.client("scheduler").create_schedule(
            Name=f"{stack_name}-credit-drift-monitor",
            ScheduleExpression="rate(1 hour)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{stack_name}-StartMonitoring", "RoleArn": ROLE},
        )
    boto3.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId="endpoint/driftline-credit/variant/AllTraffic",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=1,
        MaxCapacity=2,
    )
    logs = boto3.client("logs")
    for group in (
        "/aws/lambda/driftline-ValidateFunction-A1B2C3D4E5F6",
        "/aws/lambda/driftline-dev-ValidateFunction-X",
    ):
        logs.create_log_group(logGroupName=group)
    logs.create_log_group(logGroupName="/aws/sagemaker/TrainingJobs")
    for stream in (f"{RUN}-train/algo-1-1796000000", "someone-else-train/algo-1-1796000000"):
        logs.create_log_stream(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream)
    yield names


def _exists(call: Any, **request: Any) -> bool:
    try:
        call(**request)
    except ClientError:
        return False
    return True


def test_destroy_deletes_the_stack_then_what_its_runs_created_and_keeps_the_data_bucket(
    stack: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["destroy", "--yes"]) == 0

    out = capsys.readouterr().out
    sagemaker, s3, logs = boto3.client("sagemaker"), boto3.client("s3"), boto3.client("logs")
    assert boto3.client("stepfunctions").describe_execution(executionArn=stack["run"])["status"] == "ABORTED"
    assert not _exists(boto3.client("cloudformation").describe_stacks, StackName="driftline")
    assert [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]] == ["driftline-dev-credit"]
    assert [c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]] == [
        "driftline-dev-credit-v1"
    ]
    assert [m["ModelName"] for m in sagemaker.list_models()["Models"]] == ["driftline-dev-credit-v1"]
    groups = sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]
    assert [g["ModelPackageGroupName"] for g in groups] == ["driftline-dev-credit"]
    assert [a["AlarmName"] for a in boto3.client("cloudwatch").describe_alarms()["MetricAlarms"]] == [
        "driftline-dev-drift-credit"
    ]
    schedules = boto3.client("scheduler").list_schedules()["Schedules"]
    assert [s["Name"] for s in schedules] == ["driftline-dev-credit-drift-monitor"]
    assert not boto3.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")[
        "ScalableTargets"
    ]
    assert not _exists(s3.head_bucket, Bucket=stack["ArtifactBucketName"])
    assert _exists(s3.head_bucket, Bucket=stack["DataBucketName"])
    assert len(s3.list_object_versions(Bucket=stack["DataBucketName"])["Versions"]) == 2
    assert _exists(s3.head_bucket, Bucket=stack["AccessLogsBucket"])
    assert [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]] == [
        "/aws/lambda/driftline-dev-ValidateFunction-X"
    ]
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs")["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["someone-else-train/algo-1-1796000000"]
    assert f"keep bucket {stack['DataBucketName']}: your uploads; --delete-data deletes it too" in out
    assert "names of the stacks driftline-dev are left alone" in out
    assert out.splitlines()[-1] == "Stack driftline and what its runs created are deleted."


def test_destroy_with_delete_data_also_empties_and_deletes_the_data_and_access_log_buckets(
    stack: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["destroy", "--yes", "--delete-data"]) == 0

    s3 = boto3.client("s3")
    for bucket in ("DataBucketName", "ArtifactBucketName", "AccessLogsBucket"):
        assert not _exists(s3.head_bucket, Bucket=stack[bucket])
    assert f"emptied and deleted bucket {stack['DataBucketName']}" in capsys.readouterr().out


def test_destroy_without_a_terminal_or_yes_deletes_nothing(
    stack: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["destroy"]) == 1

    captured = capsys.readouterr()
    assert (
        "This will:" in captured.out
        and "  delete stack driftline with CloudFormation (what it created)" in captured.out
    )
    assert captured.err == "driftline: not deleting without confirmation: run it in a terminal, or pass --yes\n"
    assert _exists(boto3.client("cloudformation").describe_stacks, StackName="driftline")
    assert len(boto3.client("sagemaker").list_endpoints()["Endpoints"]) == 2


def test_destroy_run_again_after_the_stack_went_says_there_is_nothing_left(
    stack: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["destroy", "--yes"]) == 0
    capsys.readouterr()

    assert main(["destroy", "--yes"]) == 0

    assert capsys.readouterr().out.splitlines()[1] == (
        "Nothing to delete: no stack driftline in us-east-1 and nothing named driftline-*."
    )
