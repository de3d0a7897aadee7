"""What a drift job's end means: a monitor job's metrics published, a sharded window's merge job started, a
failure notified; the executions of this stack's Model Monitor schedules are handed to
``driftline_core.drift.model_monitor``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from aws_lambda_powertools import Logger

from driftline_core.aws.arns import parse_arn
from driftline_core.aws.clients import get_client
from driftline_core.drift.model_monitor import (
    MODEL_MONITOR,
    execution_schedule,
    handle_execution,
    left_running_notification,
)
from driftline_core.drift.windows import drift_job_subject, output_uris, publish_window_metrics, start_merge_job
from driftline_core.layout import (
    BASELINE_JOB_MARK,
    COMPACT_HASH_LENGTH,
    MERGE_JOB_MARK,
    MIN_COMPACT_HASH_LENGTH,
    MONITOR_JOB_MARK,
)
from driftline_core.notifications.publish import Notification, email_subject, publish_notification
from driftline_core.payloads import DriftJob, DriftJobOutcome
from driftline_core.settings import MonitoringSettings, Settings
from driftline_core.training.job_requests import MONITOR_SHARDS

logger = Logger(child=True)


def handle_job_event(
    detail: Mapping[str, Any], settings: Settings, monitoring: MonitoringSettings, *, function_arn: str
) -> DriftJobOutcome:
    """A monitoring or baseline job ended: publish a monitor's metrics, or notify a failure.

    The event only wakes this up: the job's description says what it is (its Environment) and where its
    outputs are. A monitor job that ran on several instances wrote only their summaries (its output is the
    window's ``shards/``): its completion starts the window's merge job, and the merge job's completion
    publishes. A failed monitor or merge job publishes nothing, so the drift alarm keeps its state.
    A job with a ``MonitoringScheduleArn`` is a Model Monitor execution; ``function_arn`` (the handling function's
    own) says which account and region this stack's schedules live in.
    """
    name = str(detail.get("ProcessingJobName") or "")
    status = str(detail.get("ProcessingJobStatus") or "")
    job = drift_job_kind(name, settings.model_package_group_prefix)
    if job is None and detail.get("MonitoringScheduleArn"):
        return _model_monitor_execution(detail, settings, monitoring, function_arn)
    if job is None:
        return DriftJobOutcome(job_name=name, job="other", status=status, action="ignored")
    description = get_client("sagemaker").describe_processing_job(ProcessingJobName=name)
    status = str(description.get("ProcessingJobStatus") or status)
    if status == "Completed" and job == "monitor" and MONITOR_SHARDS in output_uris(description):
        merge_name, started = start_merge_job(description, settings)
        action: Literal["merge_started", "merge_already_started"] = (
            "merge_started" if started else "merge_already_started"
        )
        return DriftJobOutcome(job_name=name, job=job, status=status, action=action, merge_job_name=merge_name)
    if status == "Completed" and job in ("monitor", "merge"):
        count = publish_window_metrics(description, monitoring.drift_metrics_namespace)
        return DriftJobOutcome(job_name=name, job=job, status=status, action="published", metrics=count)
    if status in ("Failed", "Stopped"):
        publish_notification(job_failed_notification(description, job), settings)
        return DriftJobOutcome(job_name=name, job=job, status=status, action="notified")
    return DriftJobOutcome(job_name=name, job=job, status=status, action="ignored")


def _model_monitor_execution(
    detail: Mapping[str, Any], settings: Settings, monitoring: MonitoringSettings, function_arn: str
) -> DriftJobOutcome:
    """An execution of one of this stack's Model Monitor schedules (``driftline_core.drift.model_monitor``).

    A stack that uses Driftline's monitor makes no Model Monitor call: an execution of a schedule left from when it
    used Model Monitor is only reported, and its results are not used.
    """
    name = str(detail.get("ProcessingJobName") or "")
    status = str(detail.get("ProcessingJobStatus") or "")
    schedule = execution_schedule(detail, stack=settings.model_package_group_prefix, home=parse_arn(function_arn))
    if schedule is None:
        logger.info(
            "Not an execution of this stack's Model Monitor schedules",
            extra={"job_name": name, "monitoring_schedule_arn": str(detail.get("MonitoringScheduleArn"))},
        )
        return DriftJobOutcome(job_name=name, job="other", status=status, action="ignored")
    if monitoring.drift_monitor != MODEL_MONITOR:
        publish_notification(left_running_notification(detail, schedule), settings)
        logger.warning(
            "A Model Monitor schedule still runs although the stack uses Driftline's monitor",
            extra={"job_name": name, "schedule_name": schedule},
        )
        return DriftJobOutcome(job_name=name, job="monitor", status=status, action="notified")
    outcome = handle_execution(detail, schedule, settings, monitoring.drift_metrics_namespace)
    return DriftJobOutcome(
        job_name=outcome.job_name, job="monitor", status=outcome.status, action=outcome.action, metrics=outcome.metrics
    )


def drift_job_kind(job_name: str, stack: str) -> DriftJob | None:
    """Which drift job a processing job is, by the names ``monitor_job_name``, ``merge_job_name`` and
    ``baseline_job_name`` give: their tail, or the mark that ends a compact name (under a long stack name)."""
    if not job_name.startswith(f"{stack}-"):
        return None
    if _MERGE_JOB.search(job_name):
        return "merge"
    if _MONITOR_JOB.search(job_name):
        return "monitor"
    if _BASELINE_JOB.search(job_name):
        return "baseline"
    return None


_COMPACT = rf"-[0-9a-z]{{{MIN_COMPACT_HASH_LENGTH},{COMPACT_HASH_LENGTH}}}"

_MONITOR_JOB = re.compile(rf"(?:-monitor-\d{{12}}|{_COMPACT}{MONITOR_JOB_MARK})$")


_MERGE_JOB = re.compile(rf"(?:-monitor-\d{{12}}-merge|{_COMPACT}{MERGE_JOB_MARK})$")


_BASELINE_JOB = re.compile(rf"(?:-baseline-v\d+|{_COMPACT}{BASELINE_JOB_MARK})$")


def job_failed_notification(description: Mapping[str, Any], job: DriftJob) -> Notification:
    name = str(description.get("ProcessingJobName") or "")
    dataset, endpoint = drift_job_subject(description)
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
    subject = email_subject(dataset, f"{what} failed")
    return Notification(
        subject=subject,
        message="\n".join(lines),
        # A failed merge is the window's monitoring failing: subscribers filter one outcome for both.
        attributes={"outcome": f"{'monitor' if job == 'merge' else job}_failed", "dataset": dataset},
        error="",
        cause=reason,
    )
