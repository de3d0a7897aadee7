"""Deploy: put the approved model on the dataset's endpoint (create, or blue/green update), or a candidate on its
staging endpoint, and wait for it to settle."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from driftline_core.deployment.endpoint import start_deployment
from driftline_core.deployment.staging import start_staging_deployment
from driftline_core.handler_input import validated_event
from driftline_core.payloads import DeployInput
from driftline_core.settings import get_deployment_settings, get_settings

logger = Logger()
metrics = Metrics()


# log_event=False overrides POWERTOOLS_LOGGER_LOG_EVENT: the event carries the task token.
@logger.inject_lambda_context(correlation_id_path="execution_id", log_event=False)
@metrics.log_metrics
@validated_event(DeployInput)
def lambda_handler(event: DeployInput, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(model_package_arn=event.registration.model_package_arn)
    logger.append_keys(target=event.target)
    start = start_staging_deployment if event.target == "staging" else start_deployment
    started = start(event, get_settings(), get_deployment_settings())
    metrics.add_metric(name=f"Endpoints{started.action.capitalize()}", unit=MetricUnit.Count, value=1)
    return started.model_dump(mode="json")
