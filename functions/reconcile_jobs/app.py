"""Reconcile jobs: on a schedule, resume the runs whose SageMaker job ended without its event resuming them."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from driftline_core.aws.events import ScheduledEvent
from driftline_core.aws.task_tokens import RESUMED_FAILURE, RESUMED_SUCCESS
from driftline_core.handler_input import validated_event
from driftline_core.resume import resume_finished_jobs
from driftline_core.settings import get_settings

logger = Logger()
metrics = Metrics()

_RESUMED = (RESUMED_SUCCESS, RESUMED_FAILURE)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@metrics.log_metrics
@validated_event(ScheduledEvent)
def lambda_handler(event: ScheduledEvent, context: LambdaContext) -> dict[str, Any]:
    report = resume_finished_jobs(
        settings=get_settings(), seconds_left=lambda: context.get_remaining_time_in_millis() / 1000
    )
    resumed = sum(report.outcomes.get(outcome, 0) for outcome in _RESUMED)
    metrics.add_metric(name="JobsResumedByReconciler", unit=MetricUnit.Count, value=resumed)
    metrics.add_metric(name="JobsNotReconciled", unit=MetricUnit.Count, value=len(report.failed_jobs))
    report.raise_for_failures()
    return report.model_dump(mode="json")
