"""Notify: tell the topic's subscribers how a run ended, in words they can act on."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from driftline_core.costs.run_jobs import send_notification_with_job_cost
from driftline_core.handler_input import validated_event
from driftline_core.payloads import NotifyInput
from driftline_core.settings import get_settings

logger = Logger()
metrics = Metrics()

_OUTCOME_METRICS = {
    "registered": "RunsRegistered",
    "rejected": "RunsRejected",
    "failed": "RunsFailed",
    "approved": "ModelsApproved",
    "approval_rejected": "ModelsRejectedByApprover",
    "approval_expired": "ApprovalsExpired",
    "deployed": "ModelsDeployed",
    "trial_started": "TrialsStarted",
}


@logger.inject_lambda_context(correlation_id_path="execution_id")
@metrics.log_metrics
@validated_event(NotifyInput)
def lambda_handler(event: NotifyInput, context: LambdaContext) -> dict[str, Any]:
    result = send_notification_with_job_cost(event, settings=get_settings())
    logger.info(
        "Notification sent",
        extra={"outcome": event.outcome, "error": result.error, "message_id": result.message_id},
    )
    metrics.add_metric(name=_OUTCOME_METRICS[event.outcome], unit=MetricUnit.Count, value=1)
    return result.model_dump(mode="json")
