"""Register: a candidate that passed the quality gate goes to the Model Registry, pending approval."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from driftline_core.handler_input import validated_event
from driftline_core.payloads import RegisterInput
from driftline_core.settings import get_settings
from driftline_core.training.registry import register_candidate

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path="execution_id")
@metrics.log_metrics
@validated_event(RegisterInput)
def lambda_handler(event: RegisterInput, context: LambdaContext) -> dict[str, Any]:
    result = register_candidate(event, settings=get_settings())
    logger.append_keys(model_package_arn=result.model_package_arn)
    logger.info("Candidate registered", extra={"approval_status": result.approval_status})
    metrics.add_metric(name="ModelsRegistered", unit=MetricUnit.Count, value=1)
    return result.model_dump(mode="json")
