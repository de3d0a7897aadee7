"""The drift monitor under moto: a deployment attaches its baseline job, schedule and alarm; each firing of the
schedule starts one monitor job over the window that just ended (or none, when nothing was captured); a
finished monitor job's metrics are published, a failed one is notified and publishes nothing."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends
from moto.sagemaker.models import sagemaker_backends

from driftline_core.settings import reset_settings
from tests.conftest import REGION, FakeLambdaContext, load_event
from tests.integration.drift_monitoring_steps import (
    BASELINE,
    ENDPOINT,
    FUNCTION_ARN,
    PACKAGE,
    SCHEDULE,
    SCHEDULER_ROLE,
    finish,
    processing_jobs,
    put,
    serve_endpoint,
    subscribe_inbox,
)
from tests.integration.pipeline_resources import ARTIFACT_BUCKET, EXECUTION


@pytest.fixture
def world(pipeline: None, monkeypatch: pytest.MonkeyPatch) -> None:

    monkeypatch.setenv("MODEL_PACKAGE_GROUP_PREFIX", "driftline")
    monkeypatch.setenv("MONITORING_FUNCTION_ARN", FUNCTION_ARN)
    monkeypatch.setenv("MONITORING_SCHEDULER_ROLE_ARN", SCHEDULER_ROLE)
    monkeypatch.setenv("MONITORING_SCHEDULE_EXPRESSION", "rate(1 hour)")
    monkeypatch.setenv("MONITORING_WINDOW_MINUTES", "60")
    monkeypatch.setenv("DRIFT_METRICS_NAMESPACE", "Driftline/DataDrift")
    reset_settings()
    serve_endpoint()


def schedule() -> dict[str, Any]:
    found: dict[str, Any] = boto3.client("scheduler", region_name=REGION).get_schedule(Name=SCHEDULE)
    return found


def fire(scheduled_time: str) -> dict[str, Any]:
    from functions.start_monitoring import app

    event = load_event("scheduler_start_monitoring") | {"scheduled_time": scheduled_time}
    context: Any = FakeLambdaContext()
    result: dict[str, Any] = app.lambda_handler(event, context)
    return result


def put_baseline() -> None:
    for name in ("statistics.json", "constraints.json"):
        put(f"runs/{EXECUTION}/baseline/{name}")


def capture(hour: str) -> str:
    key = f"capture/credit/{ENDPOINT}/AllTraffic/{hour}/00-00-000-1b2c3d4e.jsonl"
    put(key, '{"captureData": {}}\n')
    return key


def test_the_sample_scheduler_input_parses_as_the_monitoring_request() -> None:
    from driftline_core.payloads import MonitoringRequest

    request = MonitoringRequest.model_validate(load_event("scheduler_start_monitoring"))
    assert request.schedule_name == SCHEDULE


def test_a_deployment_schedules_the_drift_monitor_on_the_new_models_baseline_and_puts_the_drift_alarm(
    world: None,
) -> None:
    finish()

    found = schedule()
    assert found["ScheduleExpression"] == "rate(1 hour)"
    assert found["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert found["State"] == "ENABLED"
    assert found["Target"]["Arn"] == FUNCTION_ARN
    assert found["Target"]["RoleArn"] == SCHEDULER_ROLE
    given = json.loads(found["Target"]["Input"])
    assert given["baseline_uri"] == BASELINE
    assert given["model_package_arn"] == PACKAGE
    assert given["scheduled_time"] == "<aws.scheduler.scheduled-time>"

    [baseline_job] = processing_jobs()
    assert baseline_job["ProcessingJobName"] == "driftline-credit-baseline-v3"
    assert baseline_job["AppSpecification"]["ContainerEntrypoint"][-1].endswith("/baseline.py")
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in baseline_job["ProcessingInputs"]}
    assert inputs["train"] == f"s3://{ARTIFACT_BUCKET}/runs/{EXECUTION}/preprocess/train/"
    assert inputs["metadata"] == f"s3://{ARTIFACT_BUCKET}/runs/{EXECUTION}/preprocess/metadata/"
    [output] = baseline_job["ProcessingOutputConfig"]["Outputs"]
    assert output["S3Output"]["S3Uri"] == BASELINE

    [alarm] = boto3.client("cloudwatch", region_name=REGION).describe_alarms(AlarmNames=["driftline-drift-credit"])[
        "MetricAlarms"
    ]
    assert alarm["Namespace"] == "Driftline/DataDrift"
    assert alarm["MetricName"] == "drifted_features"
    assert alarm["Period"] == 3600
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
        "Endpoint": ENDPOINT,
        "MonitoringSchedule": SCHEDULE,
    }


def test_the_next_deployment_points_the_same_schedule_at_the_new_models_baseline(world: None) -> None:
    finish()
    finish(PACKAGE.replace("/3", "/4"))

    given = json.loads(schedule()["Target"]["Input"])
    assert given["model_package_arn"].endswith("/4")
    assert len(boto3.client("scheduler", region_name=REGION).list_schedules()["Schedules"]) == 1
    assert [job["ProcessingJobName"] for job in processing_jobs()] == [
        "driftline-credit-baseline-v3",
        "driftline-credit-baseline-v4",
    ]


def test_a_serverless_endpoint_gets_only_the_baseline_its_runs_compare_their_data_with(world: None) -> None:
    """It captures nothing to monitor; each later upload's run compares its rows with the served model's baseline."""
    finish(endpoint_type="Serverless")

    assert boto3.client("scheduler", region_name=REGION).list_schedules()["Schedules"] == []
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    assert cloudwatch.describe_alarms(AlarmNames=["driftline-drift-credit"])["MetricAlarms"] == []
    [job] = processing_jobs()
    assert job["ProcessingJobName"] == "driftline-credit-baseline-v3"
    [output] = job["ProcessingOutputConfig"]["Outputs"]
    assert output["S3Output"]["S3Uri"] == BASELINE


@pytest.fixture
def sent() -> Iterator[list[dict[str, Any]]]:
    """The CreateProcessingJob requests as sent (moto's DescribeProcessingJob leaves out the Environment)."""
    from driftline_core.aws.clients import get_client

    requests: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        requests.append(json.loads(json.dumps(params)))

    events = get_client("sagemaker").meta.events
    events.register("provide-client-params.sagemaker.CreateProcessingJob", record)
    yield requests
    events.unregister("provide-client-params.sagemaker.CreateProcessingJob", record)


def test_a_firing_starts_one_network_isolated_monitor_job_over_the_previous_hours_capture(
    world: None, sent: list[dict[str, Any]]
) -> None:
    put_baseline()
    capture("2026/11/23/14")
    capture("2026/11/23/15")  # the current hour: the next window's

    started = fire("2026-11-23T15:23:00Z")

    assert started["outcome"] == "started"
    assert (started["window_start"], started["window_end"]) == ("2026-11-23T14:00:00Z", "2026-11-23T15:00:00Z")
    [job] = processing_jobs()
    assert job["ProcessingJobName"] == "driftline-credit-monitor-202611231500"
    assert job["AppSpecification"]["ContainerEntrypoint"][-1].endswith("/monitor.py")
    inputs = {i["InputName"]: i["S3Input"] for i in job["ProcessingInputs"]}
    assert inputs["baseline"]["S3Uri"] == BASELINE
    assert inputs["capture-0"]["S3Uri"] == (
        f"s3://{ARTIFACT_BUCKET}/capture/credit/{ENDPOINT}/AllTraffic/2026/11/23/14/"
    )
    assert inputs["capture-0"]["LocalPath"] == (f"/opt/ml/processing/input/capture/{ENDPOINT}/AllTraffic/2026/11/23/14")
    assert "capture-1" not in inputs
    [output] = job["ProcessingOutputConfig"]["Outputs"]
    assert output["S3Output"]["S3Uri"] == (
        f"s3://{ARTIFACT_BUCKET}/monitoring/credit/{ENDPOINT}/{SCHEDULE}/2026/11/23/15/"
    )
    environment = sent[0]["Environment"]
    assert environment["sagemaker_endpoint_name"] == ENDPOINT
    assert environment["sagemaker_monitoring_schedule_name"] == SCHEDULE
    assert (environment["start_time"], environment["end_time"]) == ("2026-11-23T14:00:00Z", "2026-11-23T15:00:00Z")
    assert sent[0]["NetworkConfig"]["EnableNetworkIsolation"] is True


def test_the_same_window_fired_twice_starts_one_job(world: None) -> None:
    put_baseline()
    capture("2026/11/23/14")

    assert fire("2026-11-23T15:23:00Z")["outcome"] == "started"
    assert fire("2026-11-23T15:23:05Z")["outcome"] == "already_started"
    assert len(processing_jobs()) == 1


def test_a_window_without_captured_requests_is_no_data_and_starts_no_job(
    world: None, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    put_baseline()
    capture("2026/11/23/15")

    with caplog.at_level(logging.INFO):
        started = fire("2026-11-23T15:23:00Z")

    assert started["outcome"] == "no_data"
    assert processing_jobs() == []
    assert "No data" in capsys.readouterr().out + caplog.text


def test_a_window_before_the_baseline_exists_starts_no_job_and_says_why(world: None) -> None:
    capture("2026/11/23/14")

    started = fire("2026-11-23T15:23:00Z")

    assert started["outcome"] == "no_baseline"
    assert BASELINE in started["reason"]
    assert processing_jobs() == []


def job_event(name: str, status: str) -> dict[str, Any]:
    event = load_event("sagemaker_processing_job_failed")
    event["detail"] = {"ProcessingJobName": name, "ProcessingJobStatus": status}
    return event


def handle(event: dict[str, Any]) -> dict[str, Any]:
    from functions.start_monitoring import app

    context: Any = FakeLambdaContext()
    result: dict[str, Any] = app.lambda_handler(event, context)
    return result


def test_a_completed_monitor_job_publishes_its_window_metrics_for_the_drift_alarm(world: None) -> None:
    put_baseline()
    capture("2026/11/23/14")
    name = fire("2026-11-23T15:23:00Z")["job_name"]
    dimensions = [{"Name": "Endpoint", "Value": ENDPOINT}, {"Name": "MonitoringSchedule", "Value": SCHEDULE}]
    metrics = {
        "Namespace": "",
        "MetricData": [
            {"MetricName": name, "Dimensions": dimensions, "Timestamp": "2026-11-23T15:00:00Z", "Value": value}
            for name, value in (("feature_baseline_drift_income", 0.42), ("drifted_features", 1.0))
        ],
    }
    put(f"monitoring/credit/{ENDPOINT}/{SCHEDULE}/2026/11/23/15/cloudwatch_metrics.json", json.dumps(metrics))

    outcome = handle(job_event(name, "Completed"))

    assert outcome == {
        "job_name": name,
        "job": "monitor",
        "status": "Completed",
        "action": "published",
        "metrics": 2,
        "merge_job_name": None,
    }
    listed = boto3.client("cloudwatch", region_name=REGION).list_metrics(Namespace="Driftline/DataDrift")["Metrics"]
    assert {m["MetricName"] for m in listed} == {"feature_baseline_drift_income", "drifted_features"}


def test_a_failed_monitor_job_is_notified_and_publishes_no_metric(
    world: None, inbox: Callable[[], list[dict[str, Any]]]
) -> None:
    put_baseline()
    capture("2026/11/23/14")
    name = fire("2026-11-23T15:23:00Z")["job_name"]
    job = sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION].processing_jobs[name]
    job.processing_job_status = "Failed"
    job.failure_reason = "AlgorithmError: baseline statistics.json is not Model Monitor's format"  # type: ignore[attr-defined]

    outcome = handle(job_event(name, "Failed"))

    assert outcome["action"] == "notified"
    [message] = inbox()
    assert name in message["Body"]
    assert f"of endpoint {ENDPOINT} (dataset credit)" in message["Body"]
    assert "is not Model Monitor's format" in message["Body"]
    assert "the drift alarm keeps its state" in message["Body"]
    assert boto3.client("cloudwatch", region_name=REGION).list_metrics(Namespace="Driftline/DataDrift")["Metrics"] == []


def test_other_processing_jobs_events_are_ignored(world: None) -> None:
    outcome = handle(job_event("credit-5e4f54c7bade-preprocess", "Failed"))

    assert outcome["action"] == "ignored"


def test_an_endpoint_deleted_outside_driftline_takes_its_schedule_and_alarm_at_the_next_firing(
    world: None, caplog: pytest.LogCaptureFixture
) -> None:
    finish()
    put_baseline()
    capture("2026/11/23/14")
    boto3.client("sagemaker", region_name=REGION).delete_endpoint(EndpointName=ENDPOINT)

    with caplog.at_level(logging.INFO):
        gone = fire("2026-11-23T15:23:00Z")
        again = fire("2026-11-23T15:23:05Z")  # a firing already on its way: nothing left to remove

    assert gone["outcome"] == again["outcome"] == "endpoint_gone"
    assert f"Endpoint {ENDPOINT} no longer exists" in gone["reason"]
    assert [job for job in processing_jobs() if "-monitor-" in job["ProcessingJobName"]] == []
    assert boto3.client("scheduler", region_name=REGION).list_schedules()["Schedules"] == []
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    assert cloudwatch.describe_alarms(AlarmNames=["driftline-drift-credit"])["MetricAlarms"] == []

    finish()  # deploying again sets both up again
    assert schedule()["State"] == "ENABLED"
    assert cloudwatch.describe_alarms(AlarmNames=["driftline-drift-credit"])["MetricAlarms"]


def test_with_driftlines_monitor_set_up_windows_and_teardown_ask_sagemaker_for_no_model_monitor_action(
    world: None,
) -> None:
    """Model Monitor is closed to new customers, whose calls to it may be refused: a stack that uses Driftline's
    monitor (the default) never makes one, whatever happens to its endpoints."""
    from tests.sagemaker_actions import model_monitor_actions, sagemaker_actions

    with sagemaker_actions() as asked:
        finish()
        finish(PACKAGE.replace("/3", "/4"))  # the next model
        put_baseline()
        capture("2026/11/23/14")
        name = fire("2026-11-23T15:23:00Z")["job_name"]
        put(f"monitoring/credit/{ENDPOINT}/{SCHEDULE}/2026/11/23/15/cloudwatch_metrics.json", '{"MetricData": []}')
        assert handle(job_event(name, "Completed"))["action"] == "published"
        boto3.client("sagemaker", region_name=REGION).delete_endpoint(EndpointName=ENDPOINT)
        assert fire("2026-11-23T16:23:00Z")["outcome"] == "endpoint_gone"  # the teardown

    assert {"CreateProcessingJob", "DescribeProcessingJob", "DescribeEndpoint", "DeleteEndpoint"} <= set(asked)
    assert sorted(set(asked) & model_monitor_actions()) == []
    assert boto3.client("scheduler", region_name=REGION).list_schedules()["Schedules"] == []


def test_the_schedules_first_firing_at_its_creation_reads_the_window_before_the_endpoint_served_as_no_data(
    world: None,
) -> None:
    """EventBridge Scheduler fires a rate schedule without a StartDate as soon as it is created, so the first window
    ends when the deployment finishes, before the endpoint captured a request: that is "no data", not an error, and
    it leaves the schedule, the alarm and the baseline job as they were."""
    import io
    import time

    from driftline.local.console import Console
    from driftline.local.scheduler import SchedulerTimer
    from functions.start_monitoring import app

    finish()
    answers: list[dict[str, Any]] = []
    context: Any = FakeLambdaContext()
    timer = SchedulerTimer(
        REGION,
        60.0,
        Console(io.StringIO()),
        invoke=lambda arn, payload, region: answers.append(app.lambda_handler(payload, context)),
    )

    assert timer.fire_due(now=time.time()) == [SCHEDULE]

    [answer] = answers
    assert answer["outcome"] == "no_data", answer["reason"]
    assert [job["ProcessingJobName"] for job in processing_jobs()] == ["driftline-credit-baseline-v3"]
    assert schedule()["State"] == "ENABLED"
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    [alarm] = cloudwatch.describe_alarms(AlarmNames=["driftline-drift-credit"])["MetricAlarms"]
    assert alarm["StateValue"] != "ALARM"
    assert cloudwatch.list_metrics(Namespace="Driftline/DataDrift")["Metrics"] == []


# A window larger than one instance analyses ------------------------------------------------------------

WINDOW = f"s3://{ARTIFACT_BUCKET}/monitoring/credit/{ENDPOINT}/{SCHEDULE}/2026/11/23/15/"
SHARD_JOB = "driftline-credit-monitor-202611231500"
MERGE_JOB = "driftline-credit-monitor-202611231500-merge"


@pytest.fixture
def sized(world: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Instances sized for test windows: one per 250 captured bytes, at most 3."""

    monkeypatch.setenv("MONITOR_BYTES_PER_INSTANCE", "250")
    monkeypatch.setenv("MONITOR_MAX_INSTANCES", "3")
    reset_settings()


def capture_files(hour: str, sizes: list[int]) -> None:
    for index, size in enumerate(sizes):
        put(f"capture/credit/{ENDPOINT}/AllTraffic/{hour}/00-{index:02d}-000-1b2c3d4e.jsonl", "x" * size)


def described_as_aws_describes(sent: list[dict[str, Any]]) -> None:
    """DescribeProcessingJob on AWS returns the job's Environment; moto's leaves it out, so it is put back."""
    jobs = sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION].processing_jobs
    for request in sent:
        jobs[request["ProcessingJobName"]].environment = request.get("Environment")  # type: ignore[attr-defined]


def test_a_window_within_one_instances_bytes_runs_on_one_instance_reading_every_object(
    sized: None, sent: list[dict[str, Any]]
) -> None:
    put_baseline()
    capture_files("2026/11/23/14", [100, 100])

    started = fire("2026-11-23T15:23:00Z")

    assert (started["outcome"], started["capture_bytes"], started["instance_count"]) == ("started", 200, 1)
    [request] = sent
    assert request["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 1
    assert "ContainerArguments" not in request["AppSpecification"]
    captures = [i["S3Input"] for i in request["ProcessingInputs"] if i["InputName"].startswith("capture-")]
    assert [c["S3DataDistributionType"] for c in captures] == ["FullyReplicated"]
    [output] = request["ProcessingOutputConfig"]["Outputs"]
    assert (output["OutputName"], output["S3Output"]["S3Uri"]) == ("monitor", WINDOW)
    assert output["S3Output"]["LocalPath"] == "/opt/ml/processing/output/monitor"


def test_a_window_over_one_instances_bytes_runs_on_several_instances_each_given_a_share_of_the_objects(
    sized: None, sent: list[dict[str, Any]]
) -> None:
    put_baseline()
    capture_files("2026/11/23/14", [200, 200, 200])  # 600 bytes: 3 instances of 250

    started = fire("2026-11-23T15:23:00Z")

    assert (started["outcome"], started["capture_bytes"], started["instance_count"]) == ("started", 600, 3)
    assert MERGE_JOB in started["reason"]
    [request] = sent
    assert request["ProcessingJobName"] == SHARD_JOB
    assert request["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 3
    inputs = {i["InputName"]: i["S3Input"] for i in request["ProcessingInputs"]}
    assert inputs["capture-0"]["S3DataDistributionType"] == "ShardedByS3Key"
    assert (
        inputs["baseline"]["S3DataDistributionType"] == inputs["code"]["S3DataDistributionType"] == ("FullyReplicated")
    )
    [output] = request["ProcessingOutputConfig"]["Outputs"]
    assert (output["OutputName"], output["S3Output"]["S3Uri"]) == ("shards", f"{WINDOW}shards/")
    assert output["S3Output"]["LocalPath"] == "/opt/ml/processing/output/monitor/shards"


def test_a_window_never_gets_more_instances_than_the_maximum_or_than_its_fullest_hour_has_objects(
    sized: None,
) -> None:
    put_baseline()
    capture_files("2026/11/23/14", [2000, 2000])  # 4000 bytes would be 16 instances; 2 objects, max 3

    assert fire("2026-11-23T15:23:00Z")["instance_count"] == 2

    capture_files("2026/11/23/15", [2000] * 5)
    assert fire("2026-11-23T16:23:00Z")["instance_count"] == 3


def test_every_page_of_a_large_hours_listing_counts_towards_the_windows_size(
    world: None, monkeypatch: pytest.MonkeyPatch
) -> None:

    monkeypatch.setenv("MONITOR_BYTES_PER_INSTANCE", "1000")  # the first page (1,000 objects) fits one instance
    reset_settings()
    put_baseline()
    s3 = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]  # straight into the emulator: 1,001 requests take seconds
    for index in range(1001):
        s3.put_object(ARTIFACT_BUCKET, f"capture/credit/{ENDPOINT}/AllTraffic/2026/11/23/14/{index:04d}.jsonl", b"x")

    started = fire("2026-11-23T15:23:00Z")

    assert (started["capture_bytes"], started["instance_count"]) == (1001, 2)


def shard_job(sent: list[dict[str, Any]]) -> str:
    put_baseline()
    capture_files("2026/11/23/14", [200, 200])
    name: str = fire("2026-11-23T15:23:00Z")["job_name"]
    assert sent[0]["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 2
    described_as_aws_describes(sent)
    return name


def test_a_completed_sharded_monitor_job_starts_one_merge_job_of_its_shards_even_when_told_twice(
    sized: None, sent: list[dict[str, Any]]
) -> None:
    name = shard_job(sent)

    first = handle(job_event(name, "Completed"))
    again = handle(job_event(name, "Completed"))

    assert (first["action"], first["merge_job_name"]) == ("merge_started", MERGE_JOB)
    assert (again["action"], again["merge_job_name"]) == ("merge_already_started", MERGE_JOB)
    assert [job["ProcessingJobName"] for job in processing_jobs()] == [SHARD_JOB, MERGE_JOB]
    merge = sent[1]
    assert merge["ProcessingJobName"] == MERGE_JOB
    assert merge["AppSpecification"]["ContainerEntrypoint"][-1].endswith("/monitor.py")
    assert merge["AppSpecification"]["ContainerArguments"] == ["--mode", "merge"]
    assert merge["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 1
    inputs = {i["InputName"]: i["S3Input"] for i in merge["ProcessingInputs"]}
    assert inputs["shards"]["S3Uri"] == f"{WINDOW}shards/"
    assert inputs["shards"]["LocalPath"] == "/opt/ml/processing/input/shards"
    assert inputs["baseline"]["S3Uri"] == BASELINE
    [output] = merge["ProcessingOutputConfig"]["Outputs"]
    assert (output["OutputName"], output["S3Output"]["S3Uri"]) == ("monitor", WINDOW)
    assert merge["Environment"] == sent[0]["Environment"]  # the window's endpoint, schedule and times
    assert merge["NetworkConfig"]["EnableNetworkIsolation"] is True
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    assert cloudwatch.list_metrics(Namespace="Driftline/DataDrift")["Metrics"] == []  # the shards publish nothing


def test_a_completed_merge_job_publishes_the_windows_metrics_for_the_drift_alarm(
    sized: None, sent: list[dict[str, Any]]
) -> None:
    handle(job_event(shard_job(sent), "Completed"))
    dimensions = [{"Name": "Endpoint", "Value": ENDPOINT}, {"Name": "MonitoringSchedule", "Value": SCHEDULE}]
    metrics = {
        "Namespace": "",
        "MetricData": [
            {
                "MetricName": "drifted_features",
                "Dimensions": dimensions,
                "Timestamp": "2026-11-23T15:00:00Z",
                "Value": 2,
            }
        ],
    }
    put(f"monitoring/credit/{ENDPOINT}/{SCHEDULE}/2026/11/23/15/cloudwatch_metrics.json", json.dumps(metrics))

    outcome = handle(job_event(MERGE_JOB, "Completed"))

    assert (outcome["job"], outcome["action"], outcome["metrics"]) == ("merge", "published", 1)
    listed = boto3.client("cloudwatch", region_name=REGION).list_metrics(Namespace="Driftline/DataDrift")["Metrics"]
    assert [m["MetricName"] for m in listed] == ["drifted_features"]


@pytest.fixture
def inbox(world: None, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[dict[str, Any]]]:
    """What the topic's subscribers receive."""
    return subscribe_inbox(monkeypatch)


@pytest.mark.parametrize("status", ["Failed", "Stopped"])
def test_a_failed_or_stopped_shard_job_is_notified_and_starts_no_merge(
    sized: None, inbox: Any, sent: list[dict[str, Any]], status: str
) -> None:
    name = shard_job(sent)
    job = sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION].processing_jobs[name]
    job.processing_job_status = status
    job.failure_reason = "AlgorithmError: instance algo-2 ran out of disk"  # type: ignore[attr-defined]

    outcome = handle(job_event(name, status))

    assert outcome["action"] == "notified"
    [message] = inbox()
    assert name in message["Body"] and "algo-2 ran out of disk" in message["Body"]
    assert [job["ProcessingJobName"] for job in processing_jobs()] == [SHARD_JOB]
    assert boto3.client("cloudwatch", region_name=REGION).list_metrics(Namespace="Driftline/DataDrift")["Metrics"] == []


def test_a_failed_merge_job_is_notified_as_the_windows_monitoring_and_publishes_nothing(
    sized: None, inbox: Any, sent: list[dict[str, Any]]
) -> None:
    handle(job_event(shard_job(sent), "Completed"))
    merge = sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION].processing_jobs[MERGE_JOB]
    merge.processing_job_status = "Failed"
    merge.failure_reason = "AlgorithmError: shard summary statistics-algo-1.json is not valid JSON"  # type: ignore[attr-defined]

    outcome = handle(job_event(MERGE_JOB, "Failed"))

    assert (outcome["job"], outcome["action"]) == ("merge", "notified")
    [message] = inbox()
    assert MERGE_JOB in message["Body"] and "the drift alarm keeps its state" in message["Body"]
    assert message["MessageAttributes"]["outcome"]["StringValue"] == "monitor_failed"  # one outcome to filter on
    assert boto3.client("cloudwatch", region_name=REGION).list_metrics(Namespace="Driftline/DataDrift")["Metrics"] == []


def test_a_long_endpoints_merge_job_name_fits_sagemakers_63_characters_and_is_still_known_as_the_merge() -> None:
    from datetime import UTC, datetime

    from driftline_core.drift.job_events import drift_job_kind
    from driftline_core.layout import endpoint_name, merge_job_name, monitor_job_name

    endpoint = endpoint_name("driftline", "a-very-long-dataset-name-a-very-long-dat")
    end = datetime(2026, 11, 23, 15, tzinfo=UTC)

    name = merge_job_name(endpoint, end)

    # No room for the window's tail beside the endpoint's start that holds any stack's prefix: the compact form.
    assert len(name) <= 63 and name.startswith("driftline-a-very-long-") and name.endswith("-mm")
    assert merge_job_name(endpoint, end) == name != merge_job_name(endpoint[:-1] + "x", end)
    assert name != merge_job_name(endpoint, end.replace(hour=16))
    assert drift_job_kind(name, "driftline") == "merge"
    assert drift_job_kind(monitor_job_name(endpoint, end), "driftline") == "monitor"
