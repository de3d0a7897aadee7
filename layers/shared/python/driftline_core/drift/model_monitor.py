"""SageMaker Model Monitor as the drift monitor, for accounts that still have it (``DriftMonitor=ModelMonitor``).

Model Monitor is closed to new customers, so Driftline's own monitor is the default; this path keeps the same
baseline, the same S3 layout and the same alarm. When an endpoint serves a newly approved model,
``set_up_model_monitor``:

- starts the same baseline job as Driftline's monitor (``ml/baseline.py``): its ``statistics.json`` and
  ``constraints.json`` are in Model Monitor's formats, which a data-quality job definition takes as its baseline;
- creates a data-quality job definition per served model (job definitions cannot be updated) with the Model
  Monitor analyzer image of the region, the endpoint as input, outputs under ``monitoring/<dataset>/`` (Model
  Monitor adds ``<endpoint>/<schedule>/yyyy/mm/dd/hh/``, Driftline's layout), the SageMaker role, network
  isolation and the stack's KMS key;
- creates the endpoint's monitoring schedule, or points the existing one at the new definition (and deletes the
  one it replaces), on ``MonitoringScheduleExpression`` in Model Monitor's cron form;
- puts the dataset's drift alarm on ``drifted_features``, as Driftline's monitor does.

Model Monitor publishes ``feature_baseline_drift_<feature>`` under its own namespace but no ``drifted_features``.
Each execution's "SageMaker Processing Job State Change" event brings StartMonitoring here: the event's detail is
the processing job's description, whose ``MonitoringScheduleArn`` names the schedule that started it
(``execution_schedule``). A completed execution's ``constraint_violations.json`` gives ``drifted_features``
(``handle_execution``), published under the stack's drift namespace with the dimensions the alarm watches, so the
same alarm and the same retrain follow; a failed execution is notified; one that found no captured data is only
logged.

Model Monitor is closed to new customers, whose calls to it may be refused: a stack deployed with
``DriftMonitor=Driftline`` never calls a Model Monitor API, not even to remove a schedule left from when it used
Model Monitor (``left_running_notification`` asks for that instead).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from driftline_core import layout
from driftline_core.aws import s3io
from driftline_core.aws.arns import Arn, parse_arn
from driftline_core.aws.clients import get_client
from driftline_core.aws.error_codes import is_already_exists, is_not_found
from driftline_core.aws.instance_storage import has_instance_storage
from driftline_core.aws.sagemaker import describe_endpoint
from driftline_core.drift.alarms import (
    DATASET_TAG,
    DRIFTED_FEATURES_METRIC,
    ENDPOINT_TAG,
    delete_drift_alarm,
    put_drift_alarm,
)
from driftline_core.drift.baseline import start_baseline_job
from driftline_core.drift.schedules import delete_scheduler_schedule, rate_minutes
from driftline_core.errors import MonitoringNotConfigured, UnsupportedMonitorSchedule
from driftline_core.layout import MONITORING_PREFIX, drift_reports_prefix, job_definition_name, monitoring_schedule_name
from driftline_core.notifications.publish import Notification, email_subject, publish_notification
from driftline_core.payloads import MonitoringSetup
from driftline_core.settings import MonitoringSettings, Settings

logger = Logger(child=True)

MODEL_MONITOR: Literal["ModelMonitor"] = "ModelMonitor"
MONITORING_TYPE = "DataQuality"
ENDPOINT_INPUT_PATH = "/opt/ml/processing/input/endpoint"
OUTPUT_PATH = "/opt/ml/processing/output"
VOLUME_SIZE_GB = 30
MAX_RUNTIME_SECONDS = 86400
"""MonitoringStoppingCondition's limit."""
DRIFT_CHECK = "baseline_drift_check"
NO_DATA_REASON = "no data"
"""Model Monitor fails an execution whose window captured nothing with "Job inputs had no data"."""
ENDPOINT_ENVIRONMENT = "sagemaker_endpoint_name"
"""The endpoint an execution watches: one of the variables Model Monitor gives every execution's container (AWS's
"Container Contract Inputs"), which DescribeProcessingJob, and so the job's state-change event, shows."""
SCHEDULE_RESOURCE = "monitoring-schedule/"

_CRON = re.compile(r"^cron\(\s*0\s+(\*|(\d{1,2})(?:/(\d{1,2}))?)\s+\?\s+\*\s+\*\s+\*\s*\)$")


@dataclass(frozen=True)
class ModelMonitorSchedule:
    expression: str
    """Model Monitor's cron form."""
    interval_hours: int


def model_monitor_schedule(expression: str) -> ModelMonitorSchedule:
    """``MonitoringScheduleExpression`` in the cron form Model Monitor accepts, or a refusal saying what to use.

    Model Monitor runs hourly (``cron(0 * ? * * *)``), daily (``cron(0 H ? * * *)``) or every N hours
    (``cron(0 H/N ? * * *)``); ``rate(1 hour)``, ``rate(N hours)`` with N dividing a day and ``rate(1 day)`` become
    those, and cron expressions already in those forms are kept.
    """
    text = expression.strip()
    minutes = rate_minutes(text)
    if minutes is not None:
        if minutes == 60:
            return ModelMonitorSchedule("cron(0 * ? * * *)", 1)
        if minutes == 1440:
            return ModelMonitorSchedule("cron(0 0 ? * * *)", 24)
        if minutes % 60 == 0 and 24 % (minutes // 60) == 0:
            return ModelMonitorSchedule(f"cron(0 0/{minutes // 60} ? * * *)", minutes // 60)
    cron = _CRON.match(text)
    if cron:
        if cron.group(1) == "*":
            return ModelMonitorSchedule("cron(0 * ? * * *)", 1)
        hour, every = int(cron.group(2)), cron.group(3)
        if hour <= 23 and every is None:
            return ModelMonitorSchedule(f"cron(0 {hour} ? * * *)", 24)
        if hour <= 23 and every is not None and 1 <= int(every) <= 24:
            return ModelMonitorSchedule(f"cron(0 {hour}/{int(every)} ? * * *)", int(every))
    raise UnsupportedMonitorSchedule(
        f"MonitoringScheduleExpression {expression!r} cannot drive SageMaker Model Monitor, which runs only hourly "
        "(rate(1 hour) or cron(0 * ? * * *)), every N hours (rate(N hours) with N dividing 24, or "
        "cron(0 H/N ? * * *)) or daily (rate(1 day) or cron(0 H ? * * *)). Deploy the stack again with one of "
        "those, or with DriftMonitor=Driftline, whose monitor takes any EventBridge Scheduler expression."
    )


def build_job_definition_request(
    *,
    name: str,
    dataset: str,
    endpoint: str,
    baseline_uri: str,
    image_uri: str,
    interval_hours: int,
    settings: Settings,
) -> dict[str, Any]:
    """CreateDataQualityJobDefinition: the endpoint's captured requests against the served model's baseline."""
    tags = [{"Key": DATASET_TAG, "Value": dataset}, {"Key": ENDPOINT_TAG, "Value": endpoint}]
    # Model Monitor adds <endpoint>/<schedule>/yyyy/mm/dd/hh/ to this: Driftline's layout under the dataset.
    output_uri = layout.s3_uri(settings.artifact_bucket, drift_reports_prefix(dataset).rstrip("/"))
    request: dict[str, Any] = {
        "JobDefinitionName": name,
        "DataQualityBaselineConfig": {
            "ConstraintsResource": {"S3Uri": f"{baseline_uri}constraints.json"},
            "StatisticsResource": {"S3Uri": f"{baseline_uri}statistics.json"},
        },
        "DataQualityAppSpecification": {
            "ImageUri": image_uri,
            # Model Monitor's own per-feature metrics, for the teams and dashboards that read them.
            "Environment": {"publish_cloudwatch_metrics": "Enabled"},
        },
        "DataQualityJobInput": {
            "EndpointInput": {
                "EndpointName": endpoint,
                "LocalPath": ENDPOINT_INPUT_PATH,
                "S3InputMode": "File",
                "S3DataDistributionType": "FullyReplicated",
            }
        },
        "DataQualityJobOutputConfig": {
            "MonitoringOutputs": [
                {"S3Output": {"S3Uri": output_uri, "LocalPath": OUTPUT_PATH, "S3UploadMode": "EndOfJob"}}
            ]
        },
        "JobResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": settings.processing_instance_type,
                "VolumeSizeInGB": VOLUME_SIZE_GB,
            }
        },
        "NetworkConfig": {"EnableNetworkIsolation": True},
        "RoleArn": settings.sagemaker_role_arn,
        # An execution still running when the next one is due would overlap it.
        "StoppingCondition": {
            "MaxRuntimeInSeconds": min(settings.max_job_runtime_seconds, interval_hours * 3600, MAX_RUNTIME_SECONDS)
        },
        "Tags": tags,
    }
    if settings.kms_key_arn:
        request["DataQualityJobOutputConfig"]["KmsKeyId"] = settings.kms_key_arn
        if not has_instance_storage(settings.processing_instance_type):
            # An instance type with NVMe instance storage takes no volume key: its storage is encrypted by hardware.
            request["JobResources"]["ClusterConfig"]["VolumeKmsKeyId"] = settings.kms_key_arn
    vpc_config = settings.job_vpc_config
    if vpc_config:
        request["NetworkConfig"]["VpcConfig"] = vpc_config
    return request


def build_schedule_config(definition: str, schedule: ModelMonitorSchedule) -> dict[str, Any]:
    return {
        "ScheduleConfig": {"ScheduleExpression": schedule.expression},
        "MonitoringJobDefinitionName": definition,
        "MonitoringType": MONITORING_TYPE,
    }


def put_monitoring_schedule(name: str, definition: str, schedule: ModelMonitorSchedule, tags: list[Any]) -> str | None:
    """Create the schedule, or point it at ``definition``; returns the definition it used before, if any."""
    sagemaker = get_client("sagemaker")
    config = build_schedule_config(definition, schedule)
    try:
        current = sagemaker.describe_monitoring_schedule(MonitoringScheduleName=name)
    except ClientError as error:
        if not is_not_found(error):
            raise
        sagemaker.create_monitoring_schedule(MonitoringScheduleName=name, MonitoringScheduleConfig=config, Tags=tags)
        return None
    sagemaker.update_monitoring_schedule(MonitoringScheduleName=name, MonitoringScheduleConfig=config)
    previous = str(current.get("MonitoringScheduleConfig", {}).get("MonitoringJobDefinitionName") or "")
    return previous or None


def set_up_model_monitor(
    *,
    dataset: str,
    endpoint: str,
    model_version: int,
    execution_name: str,
    settings: Settings,
    monitoring: MonitoringSettings,
) -> MonitoringSetup:
    """Baseline job, data-quality job definition, monitoring schedule and alarm; safe to repeat."""
    schedule = model_monitor_schedule(monitoring.monitoring_schedule_expression)
    if not monitoring.model_monitor_image_uri:
        raise MonitoringNotConfigured(
            "Model Monitor cannot be scheduled: MODEL_MONITOR_IMAGE_URI is not set; deploy the stack again "
            "(sam deploy) with DriftMonitor=ModelMonitor in a region where SageMaker publishes the Model Monitor "
            "analyzer image."
        )
    baseline_job, baseline_uri = start_baseline_job(
        dataset=dataset,
        endpoint=endpoint,
        model_version=model_version,
        execution_name=execution_name,
        settings=settings,
    )
    stack = settings.model_package_group_prefix
    definition = job_definition_name(endpoint, model_version, stack=stack)
    request = build_job_definition_request(
        name=definition,
        dataset=dataset,
        endpoint=endpoint,
        baseline_uri=baseline_uri,
        image_uri=monitoring.model_monitor_image_uri,
        interval_hours=schedule.interval_hours,
        settings=settings,
    )
    sagemaker = get_client("sagemaker")
    try:
        sagemaker.create_data_quality_job_definition(**request)
    except ClientError as error:
        if not is_already_exists(error):
            raise
    name = monitoring_schedule_name(endpoint, stack=stack)
    previous = put_monitoring_schedule(name, definition, schedule, request["Tags"])
    if previous and previous != definition:
        _delete_job_definition(previous)
    delete_scheduler_schedule(endpoint, stack=stack)
    alarm = put_drift_alarm(
        stack,
        dataset,
        endpoint,
        name,
        namespace=monitoring.drift_metrics_namespace,
        period_seconds=min(schedule.interval_hours, 24) * 3600,
    )
    logger.info(
        "Model Monitor set up",
        extra={"schedule_name": name, "job_definition": definition, "alarm_name": alarm, "baseline_job": baseline_job},
    )
    return MonitoringSetup(
        schedule_name=name,
        schedule_expression=schedule.expression,
        alarm_name=alarm,
        baseline_uri=baseline_uri,
        baseline_job_name=baseline_job,
    )


def tear_down_model_monitor(endpoint: str, *, stack: str) -> None:
    """The endpoint's Model Monitor schedule and its job definition; what is already gone is fine."""
    sagemaker = get_client("sagemaker")
    name = monitoring_schedule_name(endpoint, stack=stack)
    try:
        current = sagemaker.describe_monitoring_schedule(MonitoringScheduleName=name)
        sagemaker.delete_monitoring_schedule(MonitoringScheduleName=name)
    except ClientError as error:
        if not is_not_found(error):
            raise
        return
    definition = str(current.get("MonitoringScheduleConfig", {}).get("MonitoringJobDefinitionName") or "")
    if definition:
        _delete_job_definition(definition)


def _delete_job_definition(name: str) -> None:
    try:
        get_client("sagemaker").delete_data_quality_job_definition(JobDefinitionName=name)
    except ClientError as error:
        if not is_not_found(error):
            # Left behind, it costs nothing and runs nothing; a stack delete leaves such definitions too.
            logger.warning(
                "A replaced Model Monitor job definition was not deleted",
                extra={"job_definition": name, "error": str(error)},
            )


def execution_schedule(detail: Mapping[str, Any], *, stack: str, home: Arn | None) -> str | None:
    """The name of this stack's Model Monitor schedule that started an execution; None for any other job.

    SageMaker gives the processing job of each Model Monitor execution its schedule's ARN (DescribeProcessingJob's
    ``MonitoringScheduleArn``, carried by the job's state-change event); Driftline's own jobs have none. The
    schedule is this stack's when it lives in the partition, region and account of ``home`` (the ARN of the
    function handling the event) and is named as the stack names the schedule of the endpoint the execution
    watched (``layout.monitoring_schedule_name``). SageMaker writes names into ARNs in lowercase, as Driftline's
    names are.
    """
    arn = parse_arn(str(detail.get("MonitoringScheduleArn") or ""))
    if arn is None or home is None or arn.service != "sagemaker" or not arn.same_place(home):
        return None
    name = arn.resource.removeprefix(SCHEDULE_RESOURCE)
    endpoint = execution_endpoint(detail)
    if name == arn.resource or not endpoint.startswith(layout.stack_prefix(stack)):
        return None
    return name if monitoring_schedule_name(endpoint, stack=stack) == name else None


def execution_endpoint(detail: Mapping[str, Any]) -> str:
    return str((detail.get("Environment") or {}).get(ENDPOINT_ENVIRONMENT) or "")


@dataclass(frozen=True)
class ExecutionOutcome:
    job_name: str
    status: str
    action: Literal["published", "notified", "ignored"]
    metrics: int = 0


def handle_execution(detail: Mapping[str, Any], schedule: str, settings: Settings, namespace: str) -> ExecutionOutcome:
    """An execution of ``schedule`` (``execution_schedule``) ended: publish its ``drifted_features``, or notify its
    failure.

    The event's detail is the execution's processing job description, from SageMaker itself (EventBridge
    accepts ``aws.*`` sources only from AWS services), which says where its outputs are.
    """
    name = str(detail.get("ProcessingJobName") or "")
    status = str(detail.get("ProcessingJobStatus") or "")
    environment = detail.get("Environment") or {}
    endpoint = execution_endpoint(detail)
    output_uri = _output_uri(detail)
    if status == "Completed":
        drifted = drifted_features(output_uri)
        timestamp = _window_end(environment) or datetime.now(UTC)
        get_client("cloudwatch").put_metric_data(
            Namespace=namespace,
            MetricData=[
                {
                    "MetricName": DRIFTED_FEATURES_METRIC,
                    "Dimensions": [
                        {"Name": "Endpoint", "Value": endpoint},
                        {"Name": "MonitoringSchedule", "Value": schedule},
                    ],
                    "Timestamp": timestamp,
                    "Value": float(len(drifted)),
                    "Unit": "Count",
                }
            ],
        )
        logger.info(
            "Published a Model Monitor execution's drifted features",
            extra={"job_name": name, "drifted_features": sorted(drifted), "namespace": namespace},
        )
        return ExecutionOutcome(job_name=name, status=status, action="published", metrics=1)
    if status in ("Failed", "Stopped"):
        reason = str(detail.get("FailureReason") or detail.get("ExitMessage") or "no reason given").strip()
        dataset = _dataset_of(output_uri)
        if endpoint and describe_endpoint(endpoint) is None:
            # An endpoint deleted outside Driftline: its schedule would fail every hour for ever.
            tear_down_model_monitor(endpoint, stack=settings.model_package_group_prefix)
            delete_drift_alarm(settings.model_package_group_prefix, dataset)
            logger.info(
                "Endpoint gone: its Model Monitor schedule, job definition and drift alarm were removed",
                extra={"job_name": name, "endpoint_name": endpoint, "dataset": dataset},
            )
            return ExecutionOutcome(job_name=name, status=status, action="ignored")
        if NO_DATA_REASON in reason.lower():
            logger.info(
                "No data: the Model Monitor execution found no captured requests in its window",
                extra={"job_name": name, "endpoint_name": endpoint},
            )
            return ExecutionOutcome(job_name=name, status=status, action="ignored")
        publish_notification(execution_failed_notification(name, status, reason, dataset, endpoint, schedule), settings)
        return ExecutionOutcome(job_name=name, status=status, action="notified")
    return ExecutionOutcome(job_name=name, status=status, action="ignored")


def drifted_features(output_uri: str) -> set[str]:
    """The features failing the baseline drift check in an execution's ``constraint_violations.json`` (none when
    Model Monitor wrote no file: a window without violations)."""
    if not output_uri:
        return set()
    bucket, key = layout.split_s3_uri(output_uri)
    document = s3io.read_json_if_exists(bucket, f"{key.rstrip('/')}/{layout.VIOLATIONS_FILE}") or {}
    return {
        str(violation.get("feature_name"))
        for violation in document.get("violations") or []
        if violation.get("constraint_check_type") == DRIFT_CHECK
    }


def execution_failed_notification(
    name: str, status: str, reason: str, dataset: str, endpoint: str, schedule: str
) -> Notification:
    lines = [
        f"The Model Monitor execution {name} of schedule {schedule} (endpoint {endpoint}, dataset {dataset}) "
        f"ended {status}: {reason}",
        "",
        "This window published no drift metrics, so the drift alarm keeps its state and no retrain starts from it. "
        "The next window is analysed at the schedule's next time.",
        f"Its log: CloudWatch log group /aws/sagemaker/ProcessingJobs, streams starting {name}/; the schedule's "
        f"executions: aws sagemaker list-monitoring-executions --monitoring-schedule-name {schedule}.",
    ]
    return Notification(
        subject=email_subject(dataset, "drift monitoring failed"),
        message="\n".join(lines),
        attributes={"outcome": "monitor_failed", "dataset": dataset},
        error="",
        cause=reason,
    )


def left_running_notification(detail: Mapping[str, Any], schedule: str) -> Notification:
    """An execution of this stack's Model Monitor schedule ended while the stack uses Driftline's monitor.

    The schedule was left from when the stack used ``DriftMonitor=ModelMonitor``. A stack that does not use Model
    Monitor calls none of its APIs (Model Monitor is closed to new customers, whose calls may be refused), so it
    cannot remove the schedule itself: it uses none of its results and asks for the schedule to be deleted.
    """
    name = str(detail.get("ProcessingJobName") or "")
    status = str(detail.get("ProcessingJobStatus") or "")
    endpoint = execution_endpoint(detail)
    dataset = _dataset_of(_output_uri(detail))
    lines = [
        f"The SageMaker Model Monitor schedule {schedule} still watches endpoint {endpoint} (dataset {dataset}): its "
        f"execution {name} ended {status}. This stack now uses Driftline's own drift monitor "
        "(DriftMonitor=Driftline), set up at each endpoint's next deployment: the execution's results are not used, "
        "but each execution is billed.",
        "",
        "Delete the schedule, then its data-quality job definition:",
        f"  aws sagemaker describe-monitoring-schedule --monitoring-schedule-name {schedule} "
        "--query MonitoringScheduleConfig.MonitoringJobDefinitionName",
        f"  aws sagemaker delete-monitoring-schedule --monitoring-schedule-name {schedule}",
        "  aws sagemaker delete-data-quality-job-definition --job-definition-name <the name the first command printed>",
        "A stack that does not use Model Monitor makes no Model Monitor call, so it cannot delete them itself.",
    ]
    return Notification(
        subject=email_subject(dataset, "Model Monitor schedule left running"),
        message="\n".join(lines),
        attributes={"outcome": "model_monitor_left_running", "dataset": dataset},
        error="",
        cause="",
    )


def _output_uri(detail: Mapping[str, Any]) -> str:
    for output in detail.get("ProcessingOutputConfig", {}).get("Outputs") or []:
        uri = (output.get("S3Output") or {}).get("S3Uri")
        if uri:
            return str(uri)
    return ""


def _dataset_of(output_uri: str) -> str:
    """``monitoring/<dataset>/...``: the dataset whose reports the execution wrote."""
    if not output_uri:
        return "unknown"
    _, key = layout.split_s3_uri(output_uri)
    parts = key.removeprefix(MONITORING_PREFIX).split("/")
    return parts[0] if key.startswith(MONITORING_PREFIX) and parts[0] else "unknown"


def _window_end(environment: Mapping[str, Any]) -> datetime | None:
    """Model Monitor's ``end_time``: the end of the window the execution analysed."""
    text = str(environment.get("end_time") or "").replace(" ", "")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
