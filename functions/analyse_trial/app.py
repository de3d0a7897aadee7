"""AnalyseTrial step: start the job that decides the A/B trial on the endpoint; its end resumes the run."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from driftline_core.handler_input import validated_event
from driftline_core.payloads import TrialAnalysisInput
from driftline_core.settings import get_settings
from driftline_core.training.jobs import start_job

logger = Logger()
metrics = Metrics()


# log_event=False overrides POWERTOOLS_LOGGER_LOG_EVENT: the event carries the task token.
@logger.inject_lambda_context(correlation_id_path="execution_id", log_event=False)
@metrics.log_metrics
@validated_event(TrialAnalysisInput)
def lambda_handler(event: TrialAnalysisInput, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(dataset=event.dataset, endpoint_name=event.deployment.endpoint_name)
    started = start_job("trial", event, get_settings())
    metrics.add_dimension(name="Step", value="trial")
    metrics.add_metric(name="JobsStarted", unit=MetricUnit.Count, value=1)
    return started.model_dump(mode="json")
