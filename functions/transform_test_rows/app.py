"""TransformTestRows step: a model in the dataset's own container answers the held-out rows in a batch transform, as
its endpoint would; the transform job's end resumes the run, whose Evaluate step then scores the answers."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from driftline_core.handler_input import validated_event
from driftline_core.payloads import EvaluateInput
from driftline_core.settings import get_settings
from driftline_core.training.jobs import start_job

logger = Logger()
metrics = Metrics()


# log_event=False overrides POWERTOOLS_LOGGER_LOG_EVENT: the event carries the task token.
@logger.inject_lambda_context(correlation_id_path="execution_id", log_event=False)
@metrics.log_metrics
@validated_event(EvaluateInput)
def lambda_handler(event: EvaluateInput, context: LambdaContext) -> dict[str, Any]:
    started = start_job("transform", event, get_settings())
    metrics.add_dimension(name="Step", value="transform")
    metrics.add_metric(name="JobsStarted", unit=MetricUnit.Count, value=1)
    return started.model_dump(mode="json")
