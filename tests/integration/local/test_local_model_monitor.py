"""Local Model Monitor: the monitoring-schedule actions answer with AWS's shapes and errors, and each schedule's
executions start the processing job Model Monitor would, running Driftline's monitor with the analyzer's
environment."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import REGION

BUCKET = "driftline-artifacts-123456789012-us-east-1"
ENDPOINT = "driftline-credit"
SCHEDULE = "driftline-credit-drift-monitor"
DEFINITION = "driftline-credit-data-quality-v3"
HOURLY = {
    "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
    "MonitoringJobDefinitionName": DEFINITION,
    "MonitoringType": "DataQuality",
}


@pytest.fixture
def sagemaker(aws: None) -> Iterator[Any]:
    from driftline.local import model_monitor

    model_monitor.install()
    client = boto3.client("sagemaker", region_name=REGION)
    client.create_data_quality_job_definition(
        JobDefinitionName=DEFINITION,
        DataQualityBaselineConfig={
            "ConstraintsResource": {"S3Uri": f"s3://{BUCKET}/runs/credit-1/baseline/constraints.json"},
            "StatisticsResource": {"S3Uri": f"s3://{BUCKET}/runs/credit-1/baseline/statistics.json"},
        },
        DataQualityAppSpecification={
            "ImageUri": "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer",
            "Environment": {"publish_cloudwatch_metrics": "Enabled"},
        },
        DataQualityJobInput={"EndpointInput": {"EndpointName": ENDPOINT, "LocalPath": "/opt/ml/processing/input/ep"}},
        DataQualityJobOutputConfig={
            "MonitoringOutputs": [
                {"S3Output": {"S3Uri": f"s3://{BUCKET}/monitoring/credit", "LocalPath": "/opt/ml/processing/output"}}
            ]
        },
        JobResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30}},
        NetworkConfig={"EnableNetworkIsolation": True},
        RoleArn="arn:aws:iam::123456789012:role/driftline-sagemaker-execution",
    )
    yield client
    model_monitor.uninstall()


def error_code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_a_schedule_is_created_described_listed_updated_and_deleted_with_aws_shapes(sagemaker: Any) -> None:
    arn = sagemaker.create_monitoring_schedule(MonitoringScheduleName=SCHEDULE, MonitoringScheduleConfig=HOURLY)[
        "MonitoringScheduleArn"
    ]
    assert arn == f"arn:aws:sagemaker:us-east-1:123456789012:monitoring-schedule/{SCHEDULE}"
    found = sagemaker.describe_monitoring_schedule(MonitoringScheduleName=SCHEDULE)
    assert (found["MonitoringScheduleStatus"], found["EndpointName"]) == ("Scheduled", ENDPOINT)
    [summary] = sagemaker.list_monitoring_schedules(EndpointName=ENDPOINT)["MonitoringScheduleSummaries"]
    assert summary["MonitoringJobDefinitionName"] == DEFINITION
    assert sagemaker.list_monitoring_schedules(EndpointName="another")["MonitoringScheduleSummaries"] == []

    daily = {**HOURLY, "ScheduleConfig": {"ScheduleExpression": "cron(0 17/12 ? * * *)"}}
    sagemaker.update_monitoring_schedule(MonitoringScheduleName=SCHEDULE, MonitoringScheduleConfig=daily)
    found = sagemaker.describe_monitoring_schedule(MonitoringScheduleName=SCHEDULE)
    assert found["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"] == "cron(0 17/12 ? * * *)"

    sagemaker.delete_monitoring_schedule(MonitoringScheduleName=SCHEDULE)
    with pytest.raises(ClientError) as missing:
        sagemaker.describe_monitoring_schedule(MonitoringScheduleName=SCHEDULE)
    assert error_code(missing) == "ResourceNotFound"


def test_what_aws_refuses_is_refused_with_its_errors(sagemaker: Any) -> None:
    sagemaker.create_monitoring_schedule(MonitoringScheduleName=SCHEDULE, MonitoringScheduleConfig=HOURLY)
    with pytest.raises(ClientError) as twice:
        sagemaker.create_monitoring_schedule(MonitoringScheduleName=SCHEDULE, MonitoringScheduleConfig=HOURLY)
    assert error_code(twice) == "ResourceInUse"
    with pytest.raises(ClientError) as every_minute:
        sagemaker.update_monitoring_schedule(
            MonitoringScheduleName=SCHEDULE,
            MonitoringScheduleConfig={**HOURLY, "ScheduleConfig": {"ScheduleExpression": "rate(1 hour)"}},
        )
    assert error_code(every_minute) == "ValidationException"
    assert "cron(0 * ? * * *)" in str(every_minute.value)
    with pytest.raises(ClientError) as unknown:
        sagemaker.update_monitoring_schedule(MonitoringScheduleName="driftline-other", MonitoringScheduleConfig=HOURLY)
    assert error_code(unknown) == "ResourceNotFound"
    with pytest.raises(ClientError) as redefined:
        sagemaker.create_data_quality_job_definition(
            **{
                k: v
                for k, v in sagemaker.describe_data_quality_job_definition(JobDefinitionName=DEFINITION).items()
                if k.startswith(("JobDefinitionName", "DataQuality", "JobResources", "RoleArn"))
                and k != "JobDefinitionArn"
            }
        )
    assert error_code(redefined) == "ResourceInUse"


def serve(sagemaker: Any) -> None:
    sagemaker.create_model(ModelName="m", ExecutionRoleArn="arn:aws:iam::123456789012:role/r", PrimaryContainer={})
    sagemaker.create_endpoint_config(
        EndpointConfigName="c",
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": f"s3://{BUCKET}/capture/credit",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        },
    )
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="c")
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)


def timer() -> Any:
    from driftline.local.console import Console
    from driftline.local.model_monitor import MonitoringTimer

    return MonitoringTimer(
        REGION, 1.0, Console(), endpoint_url=None, code_uri=lambda: f"s3://{BUCKET}/code/3f9c2a7d51e0/"
    )


def test_each_firing_starts_a_processing_job_running_driftlines_monitor_with_model_monitors_environment(
    sagemaker: Any,
) -> None:
    serve(sagemaker)
    sagemaker.create_monitoring_schedule(MonitoringScheduleName=SCHEDULE, MonitoringScheduleConfig=HOURLY)
    fired = datetime(2026, 11, 23, 16, 0, tzinfo=UTC).timestamp()
    key = f"capture/credit/{ENDPOINT}/AllTraffic/2026/11/23/15/00-00-000-1b2c3d4e.jsonl"
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=key, Body=b"{}\n")
    clock = timer()

    assert clock.fire_due(fired - 3600) == []  # first seen: the first execution is one interval later
    assert clock.fire_due(fired) == [SCHEDULE]

    [summary] = sagemaker.list_processing_jobs()["ProcessingJobSummaries"]
    job = sagemaker.describe_processing_job(ProcessingJobName=summary["ProcessingJobName"])
    assert job["ProcessingJobName"].startswith("model-monitoring-202611231600-")
    assert job["AppSpecification"]["ContainerEntrypoint"] == ["python3", "/opt/ml/processing/input/code/monitor.py"]
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in job["ProcessingInputs"]}
    assert inputs["code"] == f"s3://{BUCKET}/code/3f9c2a7d51e0/src/"
    assert inputs["input_1"] == f"s3://{BUCKET}/capture/credit/{ENDPOINT}/AllTraffic/2026/11/23/15"
    assert inputs["constraints"] == f"s3://{BUCKET}/runs/credit-1/baseline/constraints.json"
    [output] = job["ProcessingOutputConfig"]["Outputs"]
    assert output["S3Output"]["S3Uri"] == f"s3://{BUCKET}/monitoring/credit/{ENDPOINT}/{SCHEDULE}/2026/11/23/16"
    [execution] = sagemaker.list_monitoring_executions(MonitoringScheduleName=SCHEDULE)["MonitoringExecutionSummaries"]
    assert execution["ProcessingJobArn"] == job["ProcessingJobArn"]
    described = sagemaker.describe_monitoring_schedule(MonitoringScheduleName=SCHEDULE)
    assert described["LastMonitoringExecutionSummary"]["ProcessingJobArn"] == job["ProcessingJobArn"]
    # As SageMaker does, the job names the schedule that started it.
    assert job["MonitoringScheduleArn"] == described["MonitoringScheduleArn"]


def test_only_an_executions_job_carries_its_schedules_arn_in_its_description_and_state_change_event(
    sagemaker: Any,
) -> None:
    from moto.sagemaker.models import sagemaker_backends

    from driftline.local.model_monitor import schedules

    serve(sagemaker)
    arn = sagemaker.create_monitoring_schedule(MonitoringScheduleName=SCHEDULE, MonitoringScheduleConfig=HOURLY)[
        "MonitoringScheduleArn"
    ]
    key = f"capture/credit/{ENDPOINT}/AllTraffic/2026/11/23/15/00.jsonl"
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=key, Body=b"{}\n")
    fired = datetime(2026, 11, 23, 16, 0, tzinfo=UTC).timestamp()
    clock = timer()
    clock.fire_due(fired - 3600)
    clock.fire_due(fired)
    backend = sagemaker_backends["123456789012"][REGION]
    # The same request, sent by someone else than the schedule.
    request = clock.processing_job_request(backend, schedules(backend)[SCHEDULE], datetime.fromtimestamp(fired, UTC), 1)
    sagemaker.create_processing_job(**(request | {"ProcessingJobName": "driftline-credit-monitor-202611231600"}))

    execution, other = sorted(backend.processing_jobs.values(), key=lambda job: job.processing_job_name, reverse=True)

    assert execution.processing_job_name.startswith("model-monitoring-")
    # What DescribeProcessingJob answers and the job's state-change event carries (its detail).
    described = sagemaker.describe_processing_job(ProcessingJobName=execution.processing_job_name)
    assert described["MonitoringScheduleArn"] == execution.response_object["MonitoringScheduleArn"] == arn
    assert "MonitoringScheduleArn" not in sagemaker.describe_processing_job(ProcessingJobName=other.processing_job_name)
    assert "MonitoringScheduleArn" not in other.response_object


@pytest.mark.parametrize(
    ("job_status", "exit_message", "failure_reason", "execution_status"),
    [
        (
            "Completed",
            "CompletedWithViolations: Job completed successfully with 2 violations.",
            "",
            "CompletedWithViolations",
        ),
        ("Completed", "", "", "Completed"),
        ("Failed", "", "AlgorithmError: exit code 1", "Failed"),
    ],
)
def test_an_execution_ends_as_its_processing_job_ended(
    sagemaker: Any, job_status: str, exit_message: str, failure_reason: str, execution_status: str
) -> None:
    from moto.sagemaker.models import sagemaker_backends

    serve(sagemaker)
    sagemaker.create_monitoring_schedule(MonitoringScheduleName=SCHEDULE, MonitoringScheduleConfig=HOURLY)
    key = f"capture/credit/{ENDPOINT}/AllTraffic/2026/11/23/15/00.jsonl"
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=key, Body=b"{}\n")
    fired = datetime(2026, 11, 23, 16, 0, tzinfo=UTC).timestamp()
    clock = timer()
    clock.fire_due(fired - 3600)
    clock.fire_due(fired)
    [job] = sagemaker_backends["123456789012"][REGION].processing_jobs.values()
    # how the local job runner leaves a job that ended
    job.processing_job_status = job_status
    setattr(job, "exit_message", exit_message)  # noqa: B010 (attributes the runner adds to moto's job)
    setattr(job, "failure_reason", failure_reason)  # noqa: B010

    [execution] = sagemaker.list_monitoring_executions(MonitoringScheduleName=SCHEDULE)["MonitoringExecutionSummaries"]
    described = sagemaker.describe_monitoring_schedule(MonitoringScheduleName=SCHEDULE)

    assert execution["MonitoringExecutionStatus"] == execution_status
    assert execution.get("FailureReason", "") == failure_reason
    assert described["LastMonitoringExecutionSummary"]["MonitoringExecutionStatus"] == execution_status


def test_the_request_carries_the_analyzers_environment(sagemaker: Any) -> None:
    from moto.sagemaker.models import sagemaker_backends

    from driftline.local.model_monitor import schedules

    serve(sagemaker)
    sagemaker.create_monitoring_schedule(MonitoringScheduleName=SCHEDULE, MonitoringScheduleConfig=HOURLY)
    backend = sagemaker_backends["123456789012"][REGION]
    found = schedules(backend)[SCHEDULE]
    key = f"capture/credit/{ENDPOINT}/AllTraffic/2026/11/23/15/00.jsonl"
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=key, Body=b"{}\n")

    request = timer().processing_job_request(backend, found, datetime(2026, 11, 23, 16, 0, tzinfo=UTC), 1)

    environment = request["Environment"]
    assert environment["dataset_source"] == "/opt/ml/processing/input/endpoint"
    assert environment["output_path"] == "/opt/ml/processing/output"
    assert environment["baseline_statistics"] == "/opt/ml/processing/baseline/stats/statistics.json"
    assert environment["baseline_constraints"] == "/opt/ml/processing/baseline/constraints/constraints.json"
    assert (environment["sagemaker_endpoint_name"], environment["sagemaker_monitoring_schedule_name"]) == (
        ENDPOINT,
        SCHEDULE,
    )
    assert environment["end_time"] == "2026-11-23T16:00:00Z"
    assert environment["publish_cloudwatch_metrics"] == "Enabled"
    assert request["NetworkConfig"] == {"EnableNetworkIsolation": True}


def test_a_window_without_captured_requests_is_a_failed_execution_without_a_job(sagemaker: Any) -> None:
    serve(sagemaker)
    sagemaker.create_monitoring_schedule(MonitoringScheduleName=SCHEDULE, MonitoringScheduleConfig=HOURLY)
    fired = datetime(2026, 11, 23, 16, 0, tzinfo=UTC).timestamp()
    clock = timer()
    clock.fire_due(fired - 3600)

    clock.fire_due(fired)

    assert sagemaker.list_processing_jobs()["ProcessingJobSummaries"] == []
    [execution] = sagemaker.list_monitoring_executions(EndpointName=ENDPOINT)["MonitoringExecutionSummaries"]
    assert (execution["MonitoringExecutionStatus"], execution["FailureReason"]) == ("Failed", "Job inputs had no data")


def _capture_hours(*hours: str) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    for hour in hours:
        s3.put_object(
            Bucket=BUCKET, Key=f"capture/credit/{ENDPOINT}/AllTraffic/{hour}/00-00-000-1b2c.jsonl", Body=b"{}\n"
        )


def recording_timer(requests: list[dict[str, Any]]) -> Any:
    """``timer()``, keeping each CreateProcessingJob request it makes (moto's descriptions drop the Environment)."""
    clock = timer()
    build = clock.processing_job_request

    def recorded(*args: Any) -> dict[str, Any]:
        request: dict[str, Any] = build(*args)
        requests.append(request)
        return request

    clock.processing_job_request = recorded
    return clock


def test_a_scaled_window_across_an_hour_gets_both_hours_folders_and_its_bounds(sagemaker: Any) -> None:
    serve(sagemaker)
    sagemaker.create_monitoring_schedule(MonitoringScheduleName=SCHEDULE, MonitoringScheduleConfig=HOURLY)
    _capture_hours("2026/11/23/14", "2026/11/23/15", "2026/11/23/16")
    seen = datetime(2026, 11, 23, 15, 58, 30, tzinfo=UTC).timestamp()
    requests: list[dict[str, Any]] = []
    clock = recording_timer(requests)  # an hour is a local minute
    clock.fire_due(seen)

    assert clock.fire_due(seen + 60) == [SCHEDULE]  # 15:58:30 to 15:59:30
    assert clock.fire_due(seen + 120.2) == [SCHEDULE]  # 15:59:30 to 16:00:30, a tick late

    first, second = requests
    folder = f"s3://{BUCKET}/capture/credit/{ENDPOINT}/AllTraffic/2026/11/23"
    assert [i["S3Input"]["S3Uri"] for i in first["ProcessingInputs"] if i["InputName"].startswith("input_")] == [
        f"{folder}/15"
    ]
    inputs = {i["InputName"]: i["S3Input"] for i in second["ProcessingInputs"] if i["InputName"].startswith("input_")}
    assert {name: found["S3Uri"] for name, found in inputs.items()} == {
        "input_1": f"{folder}/15",
        "input_2": f"{folder}/16",
    }
    assert inputs["input_2"]["LocalPath"] == f"/opt/ml/processing/input/endpoint/{ENDPOINT}/AllTraffic/2026/11/23/16"
    assert (first["Environment"]["start_time"], first["Environment"]["end_time"]) == (
        "2026-11-23T15:58:30Z",
        "2026-11-23T15:59:30Z",
    )
    assert (second["Environment"]["start_time"], second["Environment"]["end_time"]) == (
        "2026-11-23T15:59:30Z",
        "2026-11-23T16:00:30Z",
    )


def test_a_window_whose_hour_folders_hold_nothing_is_no_data_even_across_an_hour(sagemaker: Any) -> None:
    serve(sagemaker)
    sagemaker.create_monitoring_schedule(MonitoringScheduleName=SCHEDULE, MonitoringScheduleConfig=HOURLY)
    _capture_hours("2026/11/23/14")
    seen = datetime(2026, 11, 23, 15, 58, 30, tzinfo=UTC).timestamp()
    clock = timer()
    clock.fire_due(seen)
    clock.fire_due(seen + 60)

    clock.fire_due(seen + 120)

    assert sagemaker.list_processing_jobs()["ProcessingJobSummaries"] == []
    executions = sagemaker.list_monitoring_executions(MonitoringScheduleName=SCHEDULE)["MonitoringExecutionSummaries"]
    assert [e["FailureReason"] for e in executions] == ["Job inputs had no data"] * 2


def test_each_window_follows_the_last_whatever_the_ticks_lateness(sagemaker: Any) -> None:
    """A tick that fires a little late or just before the next window must not skip a window nor take one twice:
    each execution's window starts where the one before ended."""
    serve(sagemaker)
    sagemaker.create_monitoring_schedule(MonitoringScheduleName=SCHEDULE, MonitoringScheduleConfig=HOURLY)
    _capture_hours("2026/11/23/15", "2026/11/23/16")
    seen = datetime(2026, 11, 23, 15, 55, 59, 900000, tzinfo=UTC).timestamp()
    requests: list[dict[str, Any]] = []
    clock = recording_timer(requests)
    clock.fire_due(seen)

    for number, late in enumerate([0.05, 0.3, 0.0, 0.25, 0.15, 0.1], 1):
        clock.fire_due(seen + 60 * number - 0.1)
        clock.fire_due(seen + 60 * number + late)

    windows = [(job["Environment"]["start_time"], job["Environment"]["end_time"]) for job in requests]
    assert len(windows) == 6
    assert all(earlier[1] == later[0] for earlier, later in pairwise(windows))
    assert windows[0] == ("2026-11-23T15:55:59Z", "2026-11-23T15:56:59Z")
    assert windows[-1] == ("2026-11-23T16:00:59Z", "2026-11-23T16:01:59Z")
