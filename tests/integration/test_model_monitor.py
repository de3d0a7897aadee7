"""DriftMonitor=ModelMonitor under moto (with local mode's monitoring-schedule actions): a deployment attaches the
same baseline job, a data-quality job definition, a Model Monitor schedule and the same drift alarm; an execution's
violations publish ``drifted_features`` where the alarm looks; a failed execution is notified."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from driftline_core.settings import reset_settings
from tests.conftest import REGION, FakeLambdaContext, load_event
from tests.integration.drift_monitoring_steps import (
    ENDPOINT,
    PACKAGE,
    SCHEDULE,
    finish,
    processing_jobs,
    put,
    serve_endpoint,
    subscribe_inbox,
)
from tests.integration.pipeline_resources import ARTIFACT_BUCKET, EXECUTION

IMAGE = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
NAMESPACE = "Driftline/DataDrift/driftline"
BASELINE = f"s3://{ARTIFACT_BUCKET}/runs/{EXECUTION}/baseline/"
EXECUTION_OUTPUT = f"monitoring/credit/{ENDPOINT}/{SCHEDULE}/2026/11/23/16"


@pytest.fixture
def model_monitor(pipeline: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from driftline.local import model_monitor as local_model_monitor

    local_model_monitor.install()
    monkeypatch.setenv("MODEL_PACKAGE_GROUP_PREFIX", "driftline")
    monkeypatch.setenv("DRIFT_MONITOR", "ModelMonitor")
    monkeypatch.setenv("MODEL_MONITOR_IMAGE_URI", IMAGE)
    monkeypatch.setenv("MONITORING_SCHEDULE_EXPRESSION", "rate(1 hour)")
    monkeypatch.setenv("DRIFT_METRICS_NAMESPACE", NAMESPACE)
    reset_settings()
    serve_endpoint()
    try:
        yield
    finally:
        local_model_monitor.uninstall()
        reset_settings()


def sagemaker() -> Any:
    return boto3.client("sagemaker", region_name=REGION)


def definitions() -> list[str]:
    return sorted(
        d["MonitoringJobDefinitionName"]
        for d in sagemaker().list_data_quality_job_definitions()["JobDefinitionSummaries"]
    )


def test_a_deployment_creates_a_data_quality_job_definition_on_the_models_baseline_and_a_model_monitor_schedule(
    model_monitor: None,
) -> None:
    finish()

    [baseline_job] = processing_jobs()
    assert baseline_job["ProcessingJobName"] == "driftline-credit-baseline-v3"
    definition = sagemaker().describe_data_quality_job_definition(JobDefinitionName="driftline-credit-data-quality-v3")
    assert definition["DataQualityBaselineConfig"] == {
        "ConstraintsResource": {"S3Uri": f"{BASELINE}constraints.json"},
        "StatisticsResource": {"S3Uri": f"{BASELINE}statistics.json"},
    }
    assert definition["DataQualityAppSpecification"]["ImageUri"] == IMAGE
    assert definition["DataQualityJobInput"]["EndpointInput"]["EndpointName"] == ENDPOINT
    [output] = definition["DataQualityJobOutputConfig"]["MonitoringOutputs"]
    assert output["S3Output"]["S3Uri"] == f"s3://{ARTIFACT_BUCKET}/monitoring/credit"
    assert definition["RoleArn"] == "arn:aws:iam::123456789012:role/driftline-sagemaker-execution"
    assert definition["NetworkConfig"]["EnableNetworkIsolation"] is True
    assert definition["StoppingCondition"] == {"MaxRuntimeInSeconds": 1800}

    found = sagemaker().describe_monitoring_schedule(MonitoringScheduleName=SCHEDULE)
    assert found["MonitoringScheduleConfig"] == {
        "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
        "MonitoringJobDefinitionName": "driftline-credit-data-quality-v3",
        "MonitoringType": "DataQuality",
    }
    assert found["EndpointName"] == ENDPOINT
    assert boto3.client("scheduler", region_name=REGION).list_schedules()["Schedules"] == []
    [alarm] = boto3.client("cloudwatch", region_name=REGION).describe_alarms(AlarmNames=["driftline-drift-credit"])[
        "MetricAlarms"
    ]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Period"]) == (NAMESPACE, "drifted_features", 3600)
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
        "Endpoint": ENDPOINT,
        "MonitoringSchedule": SCHEDULE,
    }


def test_with_a_kms_key_model_monitor_encrypts_its_volumes_and_outputs(
    model_monitor: None, monkeypatch: pytest.MonkeyPatch
) -> None:

    key = "arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
    monkeypatch.setenv("KMS_KEY_ARN", key)
    reset_settings()

    finish()

    definition = sagemaker().describe_data_quality_job_definition(JobDefinitionName="driftline-credit-data-quality-v3")
    assert definition["DataQualityJobOutputConfig"]["KmsKeyId"] == key
    assert definition["JobResources"]["ClusterConfig"]["VolumeKmsKeyId"] == key


def test_on_an_instance_type_with_nvme_storage_model_monitor_sends_no_volume_key_and_keeps_the_output_key(
    model_monitor: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
    monkeypatch.setenv("KMS_KEY_ARN", key)
    monkeypatch.setenv("PROCESSING_INSTANCE_TYPE", "ml.r5d.large")
    reset_settings()

    finish()  # local mode refuses a volume key with ml.r5d, as SageMaker does

    definition = sagemaker().describe_data_quality_job_definition(JobDefinitionName="driftline-credit-data-quality-v3")
    assert definition["DataQualityJobOutputConfig"]["KmsKeyId"] == key
    assert "VolumeKmsKeyId" not in definition["JobResources"]["ClusterConfig"]


def test_the_next_deployment_points_the_schedule_at_the_new_models_definition_and_deletes_the_old_one(
    model_monitor: None,
) -> None:
    finish()
    finish(PACKAGE.replace("/3", "/4"))

    found = sagemaker().describe_monitoring_schedule(MonitoringScheduleName=SCHEDULE)
    assert found["MonitoringScheduleConfig"]["MonitoringJobDefinitionName"] == "driftline-credit-data-quality-v4"
    assert len(sagemaker().list_monitoring_schedules()["MonitoringScheduleSummaries"]) == 1
    assert definitions() == ["driftline-credit-data-quality-v4"]
    v4 = sagemaker().describe_data_quality_job_definition(JobDefinitionName="driftline-credit-data-quality-v4")
    assert v4["DataQualityBaselineConfig"]["StatisticsResource"]["S3Uri"] == f"{BASELINE}statistics.json"


def test_the_same_deployment_finished_twice_keeps_one_schedule_and_one_definition(model_monitor: None) -> None:
    finish()
    finish()

    assert definitions() == ["driftline-credit-data-quality-v3"]
    assert len(sagemaker().list_monitoring_schedules()["MonitoringScheduleSummaries"]) == 1


def test_switching_to_model_monitor_removes_the_endpoints_eventbridge_scheduler_schedule(
    model_monitor: None, monkeypatch: pytest.MonkeyPatch
) -> None:

    monkeypatch.setenv("DRIFT_MONITOR", "Driftline")
    monkeypatch.setenv("MONITORING_FUNCTION_ARN", "arn:aws:lambda:us-east-1:123456789012:function:driftline-Start")
    monkeypatch.setenv("MONITORING_SCHEDULER_ROLE_ARN", "arn:aws:iam::123456789012:role/driftline-scheduler")
    reset_settings()
    finish()
    scheduler = boto3.client("scheduler", region_name=REGION)
    assert len(scheduler.list_schedules()["Schedules"]) == 1

    monkeypatch.setenv("DRIFT_MONITOR", "ModelMonitor")
    reset_settings()
    finish(PACKAGE.replace("/3", "/4"))

    assert scheduler.list_schedules()["Schedules"] == []
    assert sagemaker().describe_monitoring_schedule(MonitoringScheduleName=SCHEDULE)["MonitoringScheduleStatus"]


def test_a_schedule_model_monitor_cannot_run_is_refused_before_anything_starts(
    model_monitor: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftline_core.errors import UnsupportedMonitorSchedule

    monkeypatch.setenv("MONITORING_SCHEDULE_EXPRESSION", "rate(15 minutes)")
    reset_settings()

    with pytest.raises(UnsupportedMonitorSchedule, match=r"rate\(15 minutes\).*DriftMonitor=Driftline"):
        finish()

    assert processing_jobs() == []
    assert definitions() == []


# Executions -------------------------------------------------------------------------------------------


def execution_event(status: str = "Completed", **detail: Any) -> dict[str, Any]:
    event = copy.deepcopy(load_event("sagemaker_model_monitor_execution_completed"))
    event["detail"]["ProcessingJobStatus"] = status
    event["detail"].update(detail)
    return event


def handle(event: dict[str, Any]) -> dict[str, Any]:
    from functions.start_monitoring import app

    context: Any = FakeLambdaContext()
    result: dict[str, Any] = app.lambda_handler(event, context)
    return result


def violations(*checks: tuple[str, str]) -> str:
    return json.dumps(
        {
            "violations": [
                {"feature_name": feature, "constraint_check_type": check, "description": "..."}
                for feature, check in checks
            ]
        }
    )


def test_a_completed_execution_publishes_only_drifted_features_from_its_violations_where_the_alarm_looks(
    model_monitor: None,
) -> None:
    finish()
    put(
        f"{EXECUTION_OUTPUT}/constraint_violations.json",
        violations(
            ("income", "baseline_drift_check"),
            ("age", "baseline_drift_check"),
            ("income", "data_type_check"),
            ("region", "completeness_check"),
        ),
    )

    outcome = handle(execution_event())

    assert outcome["action"] == "published"
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    [metric] = cloudwatch.list_metrics(Namespace=NAMESPACE)["Metrics"]
    assert metric["MetricName"] == "drifted_features"
    [alarm] = cloudwatch.describe_alarms(AlarmNames=["driftline-drift-credit"])["MetricAlarms"]
    assert sorted(metric["Dimensions"], key=lambda d: d["Name"]) == sorted(alarm["Dimensions"], key=lambda d: d["Name"])
    stats = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName="drifted_features",
        Dimensions=alarm["Dimensions"],
        StartTime="2026-11-23T15:00:00Z",
        EndTime="2026-11-23T17:00:00Z",
        Period=3600,
        Statistics=["Maximum"],
    )
    assert [point["Maximum"] for point in stats["Datapoints"]] == [2.0]


def test_a_completed_execution_without_violations_publishes_zero_so_the_alarm_returns_to_ok(
    model_monitor: None,
) -> None:
    outcome = handle(execution_event())

    assert (outcome["action"], outcome["metrics"]) == ("published", 1)
    stats = boto3.client("cloudwatch", region_name=REGION).get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName="drifted_features",
        Dimensions=[{"Name": "Endpoint", "Value": ENDPOINT}, {"Name": "MonitoringSchedule", "Value": SCHEDULE}],
        StartTime="2026-11-23T15:00:00Z",
        EndTime="2026-11-23T17:00:00Z",
        Period=3600,
        Statistics=["Maximum"],
    )
    assert [point["Maximum"] for point in stats["Datapoints"]] == [0.0]


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[str]]:
    """The bodies of what the topic's subscribers receive."""
    received = subscribe_inbox(monkeypatch)
    return lambda: [message["Body"] for message in received()]


def test_a_failed_execution_is_notified_and_publishes_no_metric(model_monitor: None, inbox: Any) -> None:
    finish()

    outcome = handle(execution_event("Failed", FailureReason="AlgorithmError: Error: Encoding mismatch"))

    assert outcome["action"] == "notified"
    [message] = inbox()
    assert "model-monitoring-202611231600" in message
    assert "Encoding mismatch" in message
    assert "dataset credit" in message
    assert "the drift alarm keeps its state" in message
    assert boto3.client("cloudwatch", region_name=REGION).list_metrics(Namespace=NAMESPACE)["Metrics"] == []


def test_an_execution_that_found_no_captured_data_is_logged_not_emailed(
    model_monitor: None, inbox: Any, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with caplog.at_level(logging.INFO):
        outcome = handle(execution_event("Failed", FailureReason="Job inputs had no data"))

    assert outcome["action"] == "ignored"
    assert inbox() == []
    assert "No data" in capsys.readouterr().out + caplog.text


def test_a_failed_execution_of_a_deleted_endpoint_removes_its_schedule_definition_and_alarm(
    model_monitor: None, inbox: Any
) -> None:
    finish()
    sagemaker().delete_endpoint(EndpointName=ENDPOINT)

    outcome = handle(execution_event("Failed", FailureReason="ClientError: Endpoint not found"))

    assert outcome["action"] == "ignored"
    assert sagemaker().list_monitoring_schedules()["MonitoringScheduleSummaries"] == []
    assert definitions() == []
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    assert cloudwatch.describe_alarms(AlarmNames=["driftline-drift-credit"])["MetricAlarms"] == []
    assert inbox() == []


OTHER_STACK = "arn:aws:sagemaker:us-east-1:123456789012:monitoring-schedule/other-credit-drift-monitor"
OTHER_ACCOUNT = "arn:aws:sagemaker:us-east-1:210987654321:monitoring-schedule/driftline-credit-drift-monitor"


@pytest.mark.parametrize(
    "detail",
    [
        # Another stack's schedule, in the same account and region.
        {"MonitoringScheduleArn": OTHER_STACK, "Environment": {"sagemaker_endpoint_name": "other-credit"}},
        # A schedule named as this stack's, in another account.
        {"MonitoringScheduleArn": OTHER_ACCOUNT},
        # Another job, not started by a schedule, whatever its environment says.
        {"MonitoringScheduleArn": None, "ProcessingJobName": "someone-elses-job"},
    ],
)
def test_an_execution_of_another_stacks_schedule_or_another_job_is_ignored_without_any_model_monitor_call(
    model_monitor: None, detail: dict[str, Any]
) -> None:
    from tests.sagemaker_actions import model_monitor_actions, sagemaker_actions

    finish()
    event = execution_event("Failed", FailureReason="ClientError: Endpoint not found")
    event["detail"].update({k: v for k, v in detail.items() if v is not None})
    for key in [k for k, v in detail.items() if v is None]:
        del event["detail"][key]
    sagemaker().delete_endpoint(EndpointName=ENDPOINT)

    with sagemaker_actions() as asked:
        outcome = handle(event)

    assert (outcome["job"], outcome["action"]) == ("other", "ignored")
    assert set(asked) & model_monitor_actions() == set()
    assert len(sagemaker().list_monitoring_schedules()["MonitoringScheduleSummaries"]) == 1  # this stack's, kept
    assert boto3.client("cloudwatch", region_name=REGION).list_metrics(Namespace=NAMESPACE)["Metrics"] == []


def test_a_stack_switched_back_to_driftlines_monitor_sets_it_up_without_any_model_monitor_call(
    model_monitor: None, monkeypatch: pytest.MonkeyPatch, inbox: Any
) -> None:
    """Model Monitor is closed to new customers, whose calls to it may be refused: a stack that no longer uses it
    makes none, not even to remove its old schedule. Each execution of that schedule asks for it to be deleted."""
    from tests.integration.drift_monitoring_steps import FUNCTION_ARN, SCHEDULER_ROLE
    from tests.sagemaker_actions import model_monitor_actions, sagemaker_actions

    finish()
    monkeypatch.setenv("DRIFT_MONITOR", "Driftline")
    monkeypatch.setenv("MONITORING_FUNCTION_ARN", FUNCTION_ARN)
    monkeypatch.setenv("MONITORING_SCHEDULER_ROLE_ARN", SCHEDULER_ROLE)
    monkeypatch.setenv("MONITORING_WINDOW_MINUTES", "60")
    reset_settings()
    put(
        f"{EXECUTION_OUTPUT}/constraint_violations.json",
        violations(("income", "baseline_drift_check")),
    )

    with sagemaker_actions() as asked:
        finish(PACKAGE.replace("/3", "/4"))
        outcome = handle(execution_event())
        sagemaker().delete_endpoint(EndpointName=ENDPOINT)
        failed = handle(execution_event("Failed", FailureReason="ClientError: Endpoint not found"))

    assert "CreateProcessingJob" in asked  # the new model's baseline job
    assert set(asked) & model_monitor_actions() == set()
    schedule = boto3.client("scheduler", region_name=REGION).get_schedule(Name=SCHEDULE)
    assert schedule["Target"]["Arn"] == FUNCTION_ARN
    assert (outcome["action"], failed["action"]) == ("notified", "notified")
    assert boto3.client("cloudwatch", region_name=REGION).list_metrics(Namespace=NAMESPACE)["Metrics"] == []
    first, _ = inbox()
    assert f"Model Monitor schedule {SCHEDULE} still watches endpoint {ENDPOINT} (dataset credit)" in first
    assert f"aws sagemaker delete-monitoring-schedule --monitoring-schedule-name {SCHEDULE}" in first
    # Left as it was: removing it is the account owner's call.
    assert sagemaker().describe_monitoring_schedule(MonitoringScheduleName=SCHEDULE)["MonitoringScheduleStatus"]
    assert definitions() == ["driftline-credit-data-quality-v3"]
