"""Job events: resume the run waiting on a SageMaker job when the job's state-change event arrives."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from driftline_core.aws.events import SageMakerJobStateChange
from driftline_core.aws.task_tokens import RESUMED_FAILURE, RESUMED_SUCCESS
from driftline_core.handler_input import validated_event
from driftline_core.resume import resume_from_job_event

logger = Logger()
metrics = Metrics()

_METRIC_BY_OUTCOME = {RESUMED_SUCCESS: "JobsSucceeded", RESUMED_FAILURE: "JobsFailed"}
_IGNORED_METRIC = "JobEventsIgnored"


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@metrics.log_metrics
@validated_event(SageMakerJobStateChange)
def lambda_handler(event: SageMakerJobStateChange, context: LambdaContext) -> dict[str, Any]:
    outcome = resume_from_job_event(event.detail, event.detail_type)
    metrics.add_metric(name=_METRIC_BY_OUTCOME.get(outcome, _IGNORED_METRIC), unit=MetricUnit.Count, value=1)
    return {"outcome": outcome}
