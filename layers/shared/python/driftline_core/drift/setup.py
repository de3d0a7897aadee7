"""Setting up and tearing down an endpoint's drift monitor, whichever watches it (``DriftMonitor``).

When an endpoint serves a newly approved model, ``set_up_drift_monitoring`` starts the model's baseline job
(``driftline_core.drift.baseline``), then either Driftline's monitor (an EventBridge Scheduler schedule that
fires StartMonitoring, ``driftline_core.drift.schedules`` and ``driftline_core.drift.windows``) or SageMaker
Model Monitor (``driftline_core.drift.model_monitor``), and puts the dataset's drift alarm
(``driftline_core.drift.alarms``) on the schedule's metrics.

Which one is the stack's setting alone: Model Monitor is closed to new customers, whose calls to it may be refused,
so a stack that uses Driftline's monitor calls no Model Monitor API, in set-up or teardown.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

from driftline_core.drift.alarms import delete_drift_alarm, put_drift_alarm
from driftline_core.drift.baseline import start_baseline_job
from driftline_core.drift.model_monitor import MODEL_MONITOR, set_up_model_monitor, tear_down_model_monitor
from driftline_core.drift.schedules import (
    MonitoringRequest,
    alarm_period_seconds,
    delete_scheduler_schedule,
    put_scheduler_schedule,
)
from driftline_core.errors import MonitoringNotConfigured
from driftline_core.layout import schedule_name
from driftline_core.payloads import MonitoringSetup
from driftline_core.settings import MonitoringSettings, Settings, get_monitoring_settings

logger = Logger(child=True)


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
    if monitoring.drift_monitor == MODEL_MONITOR:
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
        schedule_name=schedule_name(endpoint, stack=settings.model_package_group_prefix),
        model_package_arn=model_package_arn,
        execution_name=execution_name,
        baseline_uri=baseline_uri,
    )
    put_scheduler_schedule(request, monitoring)
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
    """The schedule of the stack's monitor (Driftline's, or Model Monitor's with its job definition) and the alarm
    of an endpoint that is gone; what is already gone is fine."""
    if (drift_monitor or get_monitoring_settings().drift_monitor) == MODEL_MONITOR:
        tear_down_model_monitor(endpoint, stack=stack)
    else:
        delete_scheduler_schedule(endpoint, stack=stack)
    delete_drift_alarm(stack, dataset)
    logger.info("Drift monitoring removed", extra={"endpoint_name": endpoint, "dataset": dataset})
