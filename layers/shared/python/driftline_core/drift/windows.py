"""Driftline's monitor at each firing of an endpoint's schedule: the window, its monitor job, its metrics.

Each firing, ``start_monitoring`` picks the window that just ended (the last whole ``window_minutes``
before the schedule's time), and starts the monitor job (``ml/monitor.py``) over the capture folders of every
clock hour the window touches (``<capture>/<endpoint>/<variant>/yyyy/mm/dd/hh/``), with the window's bounds as
``start_time`` and ``end_time``: the job analyses only the records whose inferenceTime is in the window, and
one whose folders hold none of them reports "no data" and publishes nothing. A window whose folders hold no
captured requests is "no data" and starts nothing. The monitor job runs network-isolated like every Driftline
job and writes its CloudWatch metrics to ``cloudwatch_metrics.json``; when it completes, its state-change event brings
StartMonitoring back (``driftline_core.drift.job_events``) to publish them with ``publish_window_metrics``,
so no job role needs CloudWatch or a network path to it.

A window whose captured bytes need more than one instance (``monitor_bytes_per_instance``) runs on several,
up to ``monitor_max_instances``: each instance summarises its share of the capture objects, and when that job
completes StartMonitoring starts the window's merge job (``start_merge_job``), whose outputs and metrics are
the window's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger

from driftline_core import layout
from driftline_core.aws import s3io
from driftline_core.aws.clients import get_client
from driftline_core.aws.sagemaker import describe_endpoint, start_processing_job_once
from driftline_core.aws.times import iso_utc
from driftline_core.drift.schedules import MonitoringRequest
from driftline_core.drift.setup import tear_down_drift_monitoring
from driftline_core.layout import (
    BASELINE_FILES,
    capture_hour_prefix,
    drift_alarm_name,
    merge_job_name,
    monitor_job_name,
    monitoring_output_prefix,
)
from driftline_core.payloads import MonitoringStarted
from driftline_core.settings import MAX_PROCESSING_INSTANCES, MonitoringSettings, Settings
from driftline_core.training.job_requests import (
    DATASET_VARIABLE,
    ENDPOINT_VARIABLE,
    MONITOR_OUTPUT,
    MONITOR_SHARDS,
    build_monitor_job_request,
    build_monitor_merge_job_request,
)

logger = Logger(child=True)

METRICS_PER_REQUEST = 1000


# Names and places ---------------------------------------------------------------------------------------


# Setting up -------------------------------------------------------------------------------------------


# Each window ------------------------------------------------------------------------------------------


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
    window: dict[str, Any] = {"window_start": iso_utc(start), "window_end": iso_utc(end)}
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
    if not all(s3io.prefix_holds_objects(baseline_bucket, baseline_key + name) for name in BASELINE_FILES):
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
    started = start_processing_job_once(job)
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


# After a job ------------------------------------------------------------------------------------------


def start_merge_job(description: Mapping[str, Any], settings: Settings) -> tuple[str, bool]:
    """Start the merge job of a window whose monitor job ran on several instances; True when started now.

    Everything it needs is in the monitor job's description: its environment (endpoint, schedule, window), its
    baseline input, its dataset (``drift_job_subject``) and its ``shards/`` output, below the window's output folder.
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
    shards = output_uris(description)[MONITOR_SHARDS]
    end = datetime.fromisoformat(environment["end_time"].replace("Z", "+00:00"))
    merge_name = merge_job_name(environment["sagemaker_endpoint_name"], end)
    started = start_processing_job_once(
        build_monitor_merge_job_request(
            job_name=merge_name,
            dataset=drift_job_subject(description)[0],
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


def drift_job_subject(description: Mapping[str, Any]) -> tuple[str, str]:
    """``(dataset, endpoint)`` of a drift job, from what DescribeProcessingJob returns (not the job's tags: it does not
    return them): the job's Environment, else where it writes, ``monitoring/<dataset>/<endpoint>/...``
    (``monitoring_output_prefix``), which a monitor or merge job started without the variables has too."""
    environment = {str(k): str(v) for k, v in (description.get("Environment") or {}).items()}
    written_dataset, written_endpoint = _monitoring_output_subject(description)
    dataset = environment.get(DATASET_VARIABLE) or written_dataset or "unknown"
    endpoint = (
        environment.get(ENDPOINT_VARIABLE)
        or environment.get("sagemaker_endpoint_name")
        or written_endpoint
        or "unknown"
    )
    return dataset, endpoint


def _monitoring_output_subject(description: Mapping[str, Any]) -> tuple[str, str]:
    """The dataset and endpoint folders of the window output a monitor or merge job writes; empty for other jobs."""
    for uri in output_uris(description).values():
        if not uri.startswith("s3://"):
            continue
        _, key = layout.split_s3_uri(uri)
        if not key.startswith(layout.MONITORING_PREFIX):
            continue
        dataset, _, rest = key.removeprefix(layout.MONITORING_PREFIX).partition("/")
        endpoint = rest.partition("/")[0]
        if dataset and endpoint:
            return dataset, endpoint
    return "", ""


def output_uris(description: Mapping[str, Any]) -> dict[str, str]:
    return {
        output["OutputName"]: output["S3Output"]["S3Uri"]
        for output in description.get("ProcessingOutputConfig", {}).get("Outputs", [])
        if "S3Output" in output
    }


def publish_window_metrics(description: Mapping[str, Any], namespace: str) -> int:
    """PutMetricData of the monitor's ``cloudwatch_metrics.json``, under the stack's drift namespace."""
    outputs = output_uris(description)
    uri = outputs.get(MONITOR_OUTPUT)
    if not uri:
        raise ValueError(f"monitoring job {description.get('ProcessingJobName')} has no {MONITOR_OUTPUT!r} output")
    bucket, key = layout.split_s3_uri(uri)
    document = s3io.read_json_if_exists(bucket, f"{key.rstrip('/')}/{layout.METRICS_FILE}") or {}
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


# Helpers ----------------------------------------------------------------------------------------------


def _objects_and_bytes(s3: Any, bucket: str, prefix: str) -> tuple[int, int]:
    """How many objects are under ``prefix`` and their bytes, over every page of ListObjectsV2."""
    count = size = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents") or []:
            count += 1
            size += int(item.get("Size") or 0)
    return count, size
