"""Deploy: put the approved model on the dataset's endpoint (create, blue/green update, or an A/B trial beside the
serving model), a candidate on its staging endpoint, or a trial's winner alone; then wait for the endpoint to settle."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from driftline_core.deployment.staging import start_staging_deployment
from driftline_core.deployment.trial import conclude_trial, shift_traffic_to_winner, start_release
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
    settings, deployment = get_settings(), get_deployment_settings()
    if event.target == "staging":
        started = start_staging_deployment(event, settings, deployment)
    elif event.target == "shift":
        started = shift_traffic_to_winner(event, settings)
    elif event.target == "conclude":
        started = conclude_trial(event, settings, deployment)
    else:
        started = start_release(event, settings, deployment)
    metrics.add_metric(name=f"Endpoints{started.action.capitalize()}", unit=MetricUnit.Count, value=1)
    return started.model_dump(mode="json")
