"""The drift monitor attached to a serving endpoint: its baseline, its schedule, its windows and its alarm.

When an endpoint serves a newly approved model, ``set_up_drift_monitoring``:

- starts the baseline job (``ml/baseline.py``) over the run's train split, writing
  ``runs/<execution>/baseline/statistics.json`` and ``constraints.json`` beside the model's other artifacts;
- creates or updates the endpoint's EventBridge Scheduler schedule (one per endpoint), whose Input names
  the endpoint, the dataset and that baseline, and whose target is the StartMonitoring function;
- puts the dataset's drift alarm (``driftline_core.drift_alarms``) on the schedule's metrics.

Each firing, ``start_monitoring`` picks the window that just ended (the last whole ``window_minutes``
before the schedule's time), and starts the monitor job (``ml/monitor.py``) over that window's capture
folders (``<capture>/<endpoint>/<variant>/yyyy/mm/dd/hh/``); a window without captured requests is "no
data" and starts nothing. The monitor job runs network-isolated like every Driftline job and writes its
CloudWatch metrics to ``cloudwatch_metrics.json``; when it completes, its state-change event brings
StartMonitoring back to publish them (so no job role needs CloudWatch or a network path to it). A failed
monitor or baseline job is notified and publishes nothing: the drift alarm keeps its state.

A window whose captured bytes need more than one instance (``monitor_bytes_per_instance``) runs on several,
up to ``monitor_max_instances``: each instance summarises its share of the capture objects, and when that job
completes StartMonitoring starts the window's merge job, whose outputs and metrics are the window's.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from driftline_core import layout, s3io
from driftline_core.clients import get_client
from driftline_core.deployment import describe_endpoint
from driftline_core.drift_alarms import (
    DATASET_TAG,
    DEFAULT_NAMESPACE,
    ENDPOINT_TAG,
    delete_drift_alarm,
    drift_alarm_name,
    drift_reports_prefix,
    put_drift_alarm,
)
from driftline_core.notifications import Notification, publish_notification
from driftline_core.sagemaker_jobs import (
    MONITOR_OUTPUT,
    MONITOR_SHARDS,
    build_baseline_job_request,
    build_monitor_job_request,
    build_monitor_merge_job_request,
)
from driftline_core.settings import Settings

logger = Logger(child=True)

SCHEDULE_GROUP = "default"
SCHEDULE_NAME_MAX = 64
JOB_NAME_MAX = 63
REQUEST_SOURCE: Literal["driftline.monitoring-schedule"] = "driftline.monitoring-schedule"
"""Marks the schedule's Input, so StartMonitoring tells it from the job state-change events it also receives."""
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
"""EventBridge Scheduler replaces this keyword in the Input with the time the schedule fired for."""
METRICS_FILE = "cloudwatch_metrics.json"
"""Written by ``ml/monitor.py``: a PutMetricData request for the window."""
METRICS_PER_REQUEST = 1000
MAX_CAPTURE_INPUTS = 8
"""A processing job takes at most 10 inputs; the code and the baseline use two, the window's hours the rest."""
MAX_PROCESSING_INSTANCES = 100
"""CreateProcessingJob's limit on InstanceCount."""
DEFAULT_BYTES_PER_INSTANCE = 10 * 1024**3
"""The template's MonitorBytesPerInstance default (its Description says why)."""

Outcome = Literal["started", "already_started", "no_data", "no_baseline", "endpoint_gone"]
DriftJob = Literal["monitor", "merge", "baseline"]
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_MINUTES_PER_UNIT = {"minute": 1, "minutes": 1, "hour": 60, "hours": 60, "day": 1440, "days": 1440}
_NAME_HASH_LENGTH = 8


class MonitoringNotConfigured(ValueError):
    """The function lacks the monitoring settings the template gives it."""


class MonitoringSettings(BaseModel):
    """The monitoring settings of FinishDeployment and StartMonitoring (environment names upper-cased)."""

    monitoring_function_arn: str = ""
    """StartMonitoring, the schedule's target."""
    monitoring_scheduler_role_arn: str = ""
    """The role EventBridge Scheduler assumes to invoke StartMonitoring, and nothing else."""
    monitoring_schedule_expression: str = "rate(1 hour)"
    monitoring_window_minutes: int = Field(default=60, ge=1, le=MAX_CAPTURE_INPUTS * 60 - 60)
    """How much captured traffic one monitoring job analyses: the whole minutes before the schedule's time."""
    drift_metrics_namespace: str = DEFAULT_NAMESPACE
    drift_monitor: Literal["Driftline", "ModelMonitor"] = "Driftline"
    """Whose monitor analyses the windows: Driftline's, or Model Monitor's (``driftline_core.model_monitor``)."""
    model_monitor_image_uri: str = ""
    """The region's Model Monitor analyzer image, when ``drift_monitor`` is ModelMonitor."""
    monitor_bytes_per_instance: int = Field(default=DEFAULT_BYTES_PER_INSTANCE, ge=1)
    """Captured bytes one monitor instance analyses; a larger window runs on more instances."""
    monitor_max_instances: int = Field(default=4, ge=1, le=MAX_PROCESSING_INSTANCES)
    """The most instances one window's monitor job runs on."""


@lru_cache(maxsize=1)
def get_monitoring_settings() -> MonitoringSettings:
    fields = MonitoringSettings.model_fields
    values = {name: os.environ[name.upper()] for name in fields if os.environ.get(name.upper())}
    return MonitoringSettings.model_validate(values)


def reset_monitoring_settings() -> None:
    get_monitoring_settings.cache_clear()


# Names and places ---------------------------------------------------------------------------------------


def _bounded(base: str, tail: str, limit: int) -> str:
    """``base`` + ``tail`` within ``limit`` characters; a shortened base keeps its start and gains a hash."""
    if len(base) + len(tail) <= limit:
        return base + tail
    digest = hashlib.sha256(base.encode()).hexdigest()[:_NAME_HASH_LENGTH]
    room = limit - len(tail) - len(digest) - 2
    return f"{base[:room].rstrip('-')}--{digest}{tail}"


def schedule_name(endpoint: str) -> str:
    """One schedule per endpoint, named after it (so the stack prefix the IAM policy matches stays)."""
    return _bounded(endpoint, "-drift-monitor", SCHEDULE_NAME_MAX)


def monitor_job_name(endpoint: str, window_end: datetime) -> str:
    """One monitor job per endpoint and window: a repeated firing for the same window finds its job."""
    return _bounded(endpoint, f"-monitor-{window_end:%Y%m%d%H%M}", JOB_NAME_MAX)


def merge_job_name(endpoint: str, window_end: datetime) -> str:
    """The merge job of a window analysed on several instances: the window's monitor job name plus ``-merge``."""
    return _bounded(endpoint, f"-monitor-{window_end:%Y%m%d%H%M}-merge", JOB_NAME_MAX)


def baseline_job_name(endpoint: str, version: int) -> str:
    return _bounded(endpoint, f"-baseline-v{version}", JOB_NAME_MAX)


def baseline_prefix(execution_name: str) -> str:
    """The baseline of the model a run trained, beside that run's other artifacts."""
    return f"{layout.run_prefix(execution_name)}baseline/"


def monitoring_output_prefix(dataset: str, endpoint: str, schedule: str, window_end: datetime) -> str:
    """Model Monitor's layout under the dataset's reports: ``<endpoint>/<schedule>/yyyy/mm/dd/hh/``."""
    return f"{drift_reports_prefix(dataset)}{endpoint}/{schedule}/{window_end:%Y/%m/%d/%H}/"


def capture_hour_prefix(dataset: str, endpoint: str, variant: str, hour: datetime) -> str:
    """Where SageMaker writes an hour of an endpoint variant's captured requests."""
    return f"{layout.data_capture_prefix(dataset)}{endpoint}/{variant}/{hour:%Y/%m/%d/%H}/"


def rate_minutes(expression: str) -> int | None:
    match = _RATE.match(expression.strip())
    return int(match.group(1)) * _MINUTES_PER_UNIT[match.group(2)] if match else None


def alarm_period_seconds(expression: str) -> int:
    """The drift alarm's period: one schedule interval (an hour for ``cron`` schedules), within CloudWatch's
    limits (a multiple of 60 seconds, at most a day)."""
    minutes = rate_minutes(expression) or 60
    return min(max(minutes, 1), 1440) * 60


# Setting up -------------------------------------------------------------------------------------------


class MonitoringRequest(BaseModel):
    """The schedule's Input, what StartMonitoring receives at each firing."""

    source: Literal["driftline.monitoring-schedule"] = REQUEST_SOURCE
    dataset: str
    endpoint_name: str
    variant_name: str
    schedule_name: str
    model_package_arn: str
    execution_name: str
    """The run that trained the deployed model; its baseline is the monitor's reference."""
    baseline_uri: str
    scheduled_time: str = SCHEDULED_TIME


class MonitoringSetup(BaseModel):
    schedule_name: str
    schedule_expression: str
    alarm_name: str
    baseline_uri: str
    baseline_job_name: str


def build_schedule_request(request: MonitoringRequest, monitoring: MonitoringSettings) -> dict[str, Any]:
    """CreateSchedule / UpdateSchedule: the schedule fires at its time (no flexible window) with the Input."""
    return {
        "Name": request.schedule_name,
        "GroupName": SCHEDULE_GROUP,
        "Description": (
            f"Drift monitor of endpoint {request.endpoint_name} (dataset {request.dataset}): starts a monitoring "
            "job over the last window of captured requests."
        )[:512],
        "ScheduleExpression": monitoring.monitoring_schedule_expression,
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "State": "ENABLED",
        "Target": {
            "Arn": monitoring.monitoring_function_arn,
            "RoleArn": monitoring.monitoring_scheduler_role_arn,
            "Input": request.model_dump_json(),
            # A window missed for an hour is better skipped than analysed late next to the next one.
            "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 3},
        },
    }


def start_baseline_job(
    *, dataset: str, endpoint: str, model_version: int, execution_name: str, settings: Settings
) -> tuple[str, str]:
    """Start the served model's baseline job (once: a repeat finds it); return its name and output URI.

    Every served model gets one, whatever watches its endpoint: the monitor compares windows with it, and each
    later run of the dataset compares its uploaded rows with it (the drift signal where nothing is captured).
    """
    baseline_uri = layout.s3_uri(settings.artifact_bucket, baseline_prefix(execution_name))
    job_name = baseline_job_name(endpoint, model_version)
    _start_job(
        build_baseline_job_request(
            job_name=job_name,
            execution_name=execution_name,
            dataset=dataset,
            endpoint=endpoint,
            output_uri=baseline_uri,
            settings=settings,
        )
    )
    return job_name, baseline_uri


def set_up_drift_monitoring(
    *,
    dataset: str,
    endpoint: str,
    variant: str,
    model_package_arn: str,
    model_version: int,
    execution_name: str,
    settings: Settings,
    monitoring: MonitoringSettings,
) -> MonitoringSetup:
    """Baseline job, schedule and alarm for an endpoint that now serves ``model_package_arn``; safe to repeat."""
    if monitoring.drift_monitor == "ModelMonitor":
        from driftline_core.model_monitor import set_up_model_monitor

        return set_up_model_monitor(
            dataset=dataset,
            endpoint=endpoint,
            model_version=model_version,
            execution_name=execution_name,
            settings=settings,
            monitoring=monitoring,
        )
    missing = [
        name.upper()
        for name in ("monitoring_function_arn", "monitoring_scheduler_role_arn")
        if not getattr(monitoring, name)
    ]
    if missing:
        raise MonitoringNotConfigured(
            f"The drift monitor cannot be scheduled: {', '.join(missing)} not set; deploy the stack again "
            "(sam deploy) so FinishDeployment gets its environment."
        )
    # A stack switched back from DriftMonitor=ModelMonitor leaves no Model Monitor schedule running beside this one.
    from driftline_core.model_monitor import tear_down_model_monitor

    tear_down_model_monitor(endpoint)
    job_name, baseline_uri = start_baseline_job(
        dataset=dataset,
        endpoint=endpoint,
        model_version=model_version,
        execution_name=execution_name,
        settings=settings,
    )
    request = MonitoringRequest(
        dataset=dataset,
        endpoint_name=endpoint,
        variant_name=variant,
        schedule_name=schedule_name(endpoint),
        model_package_arn=model_package_arn,
        execution_name=execution_name,
        baseline_uri=baseline_uri,
    )
    schedule = build_schedule_request(request, monitoring)
    scheduler = get_client("scheduler")
    try:
        scheduler.update_schedule(**schedule)
    except ClientError as error:
        if _error_code(error) != "ResourceNotFoundException":
            raise
        scheduler.create_schedule(**schedule)
    alarm = put_drift_alarm(
        settings.model_package_group_prefix,
        dataset,
        endpoint,
        request.schedule_name,
        namespace=monitoring.drift_metrics_namespace,
        period_seconds=alarm_period_seconds(monitoring.monitoring_schedule_expression),
    )
    logger.info(
        "Drift monitoring set up",
        extra={"schedule_name": request.schedule_name, "alarm_name": alarm, "baseline_job_name": job_name},
    )
    return MonitoringSetup(
        schedule_name=request.schedule_name,
        schedule_expression=monitoring.monitoring_schedule_expression,
        alarm_name=alarm,
        baseline_uri=baseline_uri,
        baseline_job_name=job_name,
    )


def tear_down_drift_monitoring(stack: str, dataset: str, endpoint: str, drift_monitor: str | None = None) -> None:
    """The schedule (Driftline's, or Model Monitor's with its job definition) and the alarm of an endpoint that is
    gone; what is already gone is fine."""
    if (drift_monitor or get_monitoring_settings().drift_monitor) == "ModelMonitor":
        from driftline_core.model_monitor import tear_down_model_monitor

        tear_down_model_monitor(endpoint)
    else:
        try:
            get_client("scheduler").delete_schedule(Name=schedule_name(endpoint), GroupName=SCHEDULE_GROUP)
        except ClientError as error:
            if _error_code(error) != "ResourceNotFoundException":
                raise
    delete_drift_alarm(stack, dataset)
    logger.info("Drift monitoring removed", extra={"endpoint_name": endpoint, "dataset": dataset})


# Each window ------------------------------------------------------------------------------------------


class MonitoringStarted(BaseModel):
    outcome: Outcome
    reason: str
    window_start: str
    window_end: str
    job_name: str | None = None
    capture_prefixes: list[str] = Field(default_factory=list)
    capture_bytes: int = 0
    instance_count: int = 0


def monitoring_window(
    scheduled_time: str, window_minutes: int, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """The last whole window before the schedule's time: with 60 minutes, the previous clock hour.

    A schedule created at 14:23 fires at 15:23, 16:23, ...; each firing still analyses whole hours (14:00 to
    15:00), so every captured hour is analysed once whatever minute the schedule was created at.
    """
    try:
        fired = datetime.fromisoformat(scheduled_time.replace("Z", "+00:00"))
    except ValueError:
        fired = now or datetime.now(UTC)
    if fired.tzinfo is None:
        fired = fired.replace(tzinfo=UTC)
    fired = fired.astimezone(UTC)
    width = window_minutes * 60
    end = datetime.fromtimestamp(int(fired.timestamp()) // width * width, tz=UTC)
    return end - timedelta(minutes=window_minutes), end


def window_hours(start: datetime, end: datetime) -> list[datetime]:
    """The clock hours the window overlaps: SageMaker writes capture files in hourly folders."""
    hour = start.replace(minute=0, second=0, microsecond=0)
    hours = []
    while hour < end:
        hours.append(hour)
        hour += timedelta(hours=1)
    return hours


def start_monitoring(
    request: MonitoringRequest, settings: Settings, monitoring: MonitoringSettings, now: datetime | None = None
) -> MonitoringStarted:
    """Start the monitor job over the window that just ended, or say why none was started.

    An endpoint deleted outside Driftline (to stop paying for it, say) takes its schedule and drift alarm with
    it here, at the schedule's next firing: nothing else learns of the deletion, and a schedule left behind
    would fire for ever. A later deployment of the dataset sets both up again.
    """
    start, end = monitoring_window(request.scheduled_time, monitoring.monitoring_window_minutes, now)
    window: dict[str, Any] = {"window_start": _iso(start), "window_end": _iso(end)}
    if describe_endpoint(request.endpoint_name) is None:
        tear_down_drift_monitoring(settings.model_package_group_prefix, request.dataset, request.endpoint_name)
        return MonitoringStarted(
            outcome="endpoint_gone",
            reason=(
                f"Endpoint {request.endpoint_name} no longer exists: its drift schedule {request.schedule_name} and "
                f"alarm {drift_alarm_name(settings.model_package_group_prefix, request.dataset)} were removed. "
                "Deploying a model of the dataset again sets them up again."
            ),
            **window,
        )
    bucket = settings.artifact_bucket
    s3 = get_client("s3")
    prefixes = [
        capture_hour_prefix(request.dataset, request.endpoint_name, request.variant_name, hour)
        for hour in window_hours(start, end)
    ]
    sizes = {prefix: _objects_and_bytes(s3, bucket, prefix) for prefix in prefixes}
    with_data = [prefix for prefix in prefixes if sizes[prefix][0]]
    if not with_data:
        return MonitoringStarted(
            outcome="no_data",
            reason=(
                f"No data: endpoint {request.endpoint_name} captured no requests between {window['window_start']} "
                f"and {window['window_end']} (s3://{bucket}/{prefixes[0]}); nothing to analyse."
            ),
            **window,
        )
    baseline_bucket, baseline_key = layout.split_s3_uri(request.baseline_uri)
    if not all(_has_objects(s3, baseline_bucket, baseline_key + name) for name in BASELINE_FILES):
        return MonitoringStarted(
            outcome="no_baseline",
            reason=(
                f"The baseline of {request.model_package_arn} is not ready ({request.baseline_uri} lacks "
                f"{' or '.join(BASELINE_FILES)}): its baseline job is still running or failed (a failure was "
                "notified); this window is not analysed."
            ),
            capture_prefixes=with_data,
            **window,
        )
    job_name = monitor_job_name(request.endpoint_name, end)
    captured = sum(sizes[prefix][1] for prefix in with_data)
    instances = monitor_instance_count(
        captured,
        max(sizes[prefix][0] for prefix in with_data),
        monitoring.monitor_bytes_per_instance,
        monitoring.monitor_max_instances,
    )
    output = layout.s3_uri(
        bucket, monitoring_output_prefix(request.dataset, request.endpoint_name, request.schedule_name, end)
    )
    job = build_monitor_job_request(
        job_name=job_name,
        dataset=request.dataset,
        endpoint=request.endpoint_name,
        schedule=request.schedule_name,
        baseline_uri=request.baseline_uri,
        capture_uris={
            prefix.removeprefix(layout.data_capture_prefix(request.dataset)): layout.s3_uri(bucket, prefix)
            for prefix in with_data
        },
        output_uri=output,
        window_start=window["window_start"],
        window_end=window["window_end"],
        settings=settings,
        instance_count=instances,
    )
    started = _start_job(job)
    merge = merge_job_name(request.endpoint_name, end)
    on = f"on {instances} instances, then merged by {merge}" if instances > 1 else "on one instance"
    return MonitoringStarted(
        outcome="started" if started else "already_started",
        reason=(
            f"Monitoring job {job_name} {'started' if started else 'was already started'} over "
            f"{len(with_data)} hour(s) of captured requests ({captured} bytes) {on}; outputs go to {output}."
        ),
        job_name=job_name,
        capture_prefixes=with_data,
        capture_bytes=captured,
        instance_count=instances,
        **window,
    )


def monitor_instance_count(
    captured_bytes: int, most_objects_in_an_hour: int, bytes_per_instance: int, max_instances: int
) -> int:
    """Instances a window needs: one per ``bytes_per_instance`` captured, between 1 and ``max_instances``.

    Never more than the fullest hour's objects: ``ShardedByS3Key`` hands each input's whole objects out across
    the instances, and an instance left without one would be paid for and analyse nothing.
    """
    needed = -(-captured_bytes // max(bytes_per_instance, 1))
    return max(1, min(needed, max_instances, MAX_PROCESSING_INSTANCES, most_objects_in_an_hour))


BASELINE_FILES = ("statistics.json", "constraints.json")


# After a job ------------------------------------------------------------------------------------------


class JobOutcome(BaseModel):
    job_name: str
    job: Literal["monitor", "merge", "baseline", "other"]
    status: str
    action: Literal["published", "notified", "ignored", "merge_started", "merge_already_started"]
    metrics: int = 0
    merge_job_name: str | None = None


def handle_job_event(detail: Mapping[str, Any], settings: Settings, monitoring: MonitoringSettings) -> JobOutcome:
    """A monitoring or baseline job ended: publish a monitor's metrics, or notify a failure.

    The event only wakes this up: the job's description says what it is (its Environment) and where its
    outputs are. A monitor job that ran on several instances wrote only their summaries (its output is the
    window's ``shards/``): its completion starts the window's merge job, and the merge job's completion
    publishes. A failed monitor or merge job publishes nothing, so the drift alarm keeps its state.
    """
    name = str(detail.get("ProcessingJobName") or "")
    status = str(detail.get("ProcessingJobStatus") or "")
    job = drift_job_kind(name, settings.model_package_group_prefix)
    if job is None and _MODEL_MONITOR_SCHEDULE in (detail.get("Environment") or {}):
        return _model_monitor_execution(detail, settings, monitoring)
    if job is None:
        return JobOutcome(job_name=name, job="other", status=status, action="ignored")
    description = get_client("sagemaker").describe_processing_job(ProcessingJobName=name)
    status = str(description.get("ProcessingJobStatus") or status)
    if status == "Completed" and job == "monitor" and MONITOR_SHARDS in _output_uris(description):
        merge_name, started = start_merge_job(description, settings)
        action: Literal["merge_started", "merge_already_started"] = (
            "merge_started" if started else "merge_already_started"
        )
        return JobOutcome(job_name=name, job=job, status=status, action=action, merge_job_name=merge_name)
    if status == "Completed" and job in ("monitor", "merge"):
        count = publish_window_metrics(description, monitoring.drift_metrics_namespace)
        return JobOutcome(job_name=name, job=job, status=status, action="published", metrics=count)
    if status in ("Failed", "Stopped"):
        publish_notification(job_failed_notification(description, job), settings)
        return JobOutcome(job_name=name, job=job, status=status, action="notified")
    return JobOutcome(job_name=name, job=job, status=status, action="ignored")


_MODEL_MONITOR_SCHEDULE = "sagemaker_monitoring_schedule_name"


def _model_monitor_execution(
    detail: Mapping[str, Any], settings: Settings, monitoring: MonitoringSettings
) -> JobOutcome:
    """An execution of one of this stack's Model Monitor schedules (``driftline_core.model_monitor``)."""
    from driftline_core import model_monitor

    name = str(detail.get("ProcessingJobName") or "")
    if not model_monitor.is_model_monitor_execution(detail, settings.model_package_group_prefix):
        return JobOutcome(job_name=name, job="other", status=str(detail.get("ProcessingJobStatus")), action="ignored")
    outcome = model_monitor.handle_execution(detail, settings, monitoring.drift_metrics_namespace)
    return JobOutcome(
        job_name=outcome.job_name, job="monitor", status=outcome.status, action=outcome.action, metrics=outcome.metrics
    )


def drift_job_kind(job_name: str, stack: str) -> DriftJob | None:
    """Which drift job a processing job is, by the names ``monitor_job_name``, ``merge_job_name`` and
    ``baseline_job_name`` give."""
    if not job_name.startswith(f"{stack}-"):
        return None
    if _MERGE_JOB.search(job_name):
        return "merge"
    if _MONITOR_JOB.search(job_name):
        return "monitor"
    if _BASELINE_JOB.search(job_name):
        return "baseline"
    return None


_MONITOR_JOB = re.compile(r"-monitor-\d{12}$")
_MERGE_JOB = re.compile(r"-monitor-\d{12}-merge$")
_BASELINE_JOB = re.compile(r"-baseline-v\d+$")


def start_merge_job(description: Mapping[str, Any], settings: Settings) -> tuple[str, bool]:
    """Start the merge job of a window whose monitor job ran on several instances; True when started now.

    Everything it needs is in the monitor job's description: its environment (endpoint, schedule, window),
    its baseline input, its dataset tag and its ``shards/`` output, below the window's output folder.
    """
    name = str(description.get("ProcessingJobName") or "")
    environment = {str(k): str(v) for k, v in (description.get("Environment") or {}).items()}
    needed = ("sagemaker_endpoint_name", "sagemaker_monitoring_schedule_name", "start_time", "end_time")
    inputs = {
        str(item.get("InputName")): str(item["S3Input"]["S3Uri"])
        for item in description.get("ProcessingInputs") or []
        if "S3Input" in item
    }
    missing = [key for key in needed if not environment.get(key)] + [key for key in ("baseline",) if key not in inputs]
    if missing:
        raise ValueError(
            f"monitoring job {name} lacks {', '.join(missing)} in its description, so its shards cannot be merged; "
            "the next window is analysed at the schedule's next time (deploy the stack again if this repeats)"
        )
    tags = {str(t.get("Key")): str(t.get("Value")) for t in description.get("Tags") or []}
    shards = _output_uris(description)[MONITOR_SHARDS]
    end = datetime.fromisoformat(environment["end_time"].replace("Z", "+00:00"))
    merge_name = merge_job_name(environment["sagemaker_endpoint_name"], end)
    started = _start_job(
        build_monitor_merge_job_request(
            job_name=merge_name,
            dataset=tags.get(DATASET_TAG) or "unknown",
            endpoint=environment["sagemaker_endpoint_name"],
            schedule=environment["sagemaker_monitoring_schedule_name"],
            baseline_uri=inputs["baseline"],
            shards_uri=shards,
            output_uri=shards.rstrip("/").removesuffix(MONITOR_SHARDS),
            window_start=environment["start_time"],
            window_end=environment["end_time"],
            settings=settings,
        )
    )
    logger.info("Merge job of a sharded window", extra={"monitor_job_name": name, "merge_job_name": merge_name})
    return merge_name, started


def _output_uris(description: Mapping[str, Any]) -> dict[str, str]:
    return {
        output["OutputName"]: output["S3Output"]["S3Uri"]
        for output in description.get("ProcessingOutputConfig", {}).get("Outputs", [])
        if "S3Output" in output
    }


def publish_window_metrics(description: Mapping[str, Any], namespace: str) -> int:
    """PutMetricData of the monitor's ``cloudwatch_metrics.json``, under the stack's drift namespace."""
    outputs = _output_uris(description)
    uri = outputs.get(MONITOR_OUTPUT)
    if not uri:
        raise ValueError(f"monitoring job {description.get('ProcessingJobName')} has no {MONITOR_OUTPUT!r} output")
    bucket, key = layout.split_s3_uri(uri)
    document = s3io.read_json_if_exists(bucket, f"{key.rstrip('/')}/{METRICS_FILE}") or {}
    data = list(document.get("MetricData") or [])
    cloudwatch = get_client("cloudwatch")
    for first in range(0, len(data), METRICS_PER_REQUEST):
        batch = [
            {**datum, "Timestamp": datetime.fromisoformat(str(datum["Timestamp"]).replace("Z", "+00:00"))}
            for datum in data[first : first + METRICS_PER_REQUEST]
        ]
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=batch)
    logger.info("Published the window's drift metrics", extra={"metrics": len(data), "namespace": namespace})
    return len(data)


def job_failed_notification(description: Mapping[str, Any], job: DriftJob) -> Notification:
    name = str(description.get("ProcessingJobName") or "")
    tags = {str(t.get("Key")): str(t.get("Value")) for t in description.get("Tags") or []}
    dataset = tags.get(DATASET_TAG) or "unknown"
    endpoint = tags.get(ENDPOINT_TAG) or "unknown"
    status = str(description.get("ProcessingJobStatus") or "Failed")
    reason = str(description.get("FailureReason") or description.get("ExitMessage") or "no reason given").strip()
    if job in ("monitor", "merge"):
        what = "drift monitoring"
        lines = [
            f"The drift monitoring {'merge ' if job == 'merge' else ''}job {name} of endpoint {endpoint} "
            f"(dataset {dataset}) ended {status}: {reason}",
            "",
            "This window published no drift metrics, so the drift alarm keeps its state and no retrain starts "
            "from it. The next window is analysed at the schedule's next time.",
            f"Its log: CloudWatch log group /aws/sagemaker/ProcessingJobs, streams starting {name}/.",
        ]
    else:
        what = "drift baseline"
        lines = [
            f"The drift baseline job {name} (dataset {dataset}) ended {status}: {reason}",
            "",
            "Without a baseline the endpoint's monitoring windows are not analysed. Correct the cause and "
            "deploy the model again, or upload fresh data so a new model is trained, baselined and deployed.",
            f"Its log: CloudWatch log group /aws/sagemaker/ProcessingJobs, streams starting {name}/.",
        ]
    subject = f"Driftline: {dataset} {what} failed"[:100]
    return Notification(
        subject=subject,
        message="\n".join(lines),
        # A failed merge is the window's monitoring failing: subscribers filter one outcome for both.
        attributes={"outcome": f"{'monitor' if job == 'merge' else job}_failed", "dataset": dataset},
        error="",
        cause=reason,
    )


# Helpers ----------------------------------------------------------------------------------------------


def _start_job(request: Mapping[str, Any]) -> bool:
    """CreateProcessingJob unless a job of that name exists already (a repeated call); True when started."""
    sagemaker = get_client("sagemaker")
    try:
        sagemaker.describe_processing_job(ProcessingJobName=request["ProcessingJobName"])
        return False
    except ClientError as error:
        message = str(error.response.get("Error", {}).get("Message", "")).lower()
        if _error_code(error) not in {"ValidationException", "ResourceNotFound"} or "not find" not in message:
            raise
    try:
        sagemaker.create_processing_job(**request)
    except ClientError as error:
        message = str(error.response.get("Error", {}).get("Message", "")).lower()
        if _error_code(error) in {"ResourceInUse", "ResourceInUseException"} or "already exist" in message:
            return False
        raise
    return True


def _objects_and_bytes(s3: Any, bucket: str, prefix: str) -> tuple[int, int]:
    """How many objects are under ``prefix`` and their bytes, over every page of ListObjectsV2."""
    count = size = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents") or []:
            count += 1
            size += int(item.get("Size") or 0)
    return count, size


def _has_objects(s3: Any, bucket: str, prefix: str) -> bool:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    return bool(listed.get("KeyCount") or listed.get("Contents"))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
