"""FinishDeployment: set up what needs the endpoint in service: autoscaling, then the drift monitor."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from driftline_core.deployment.serving import finish_deployment
from driftline_core.handler_input import validated_event
from driftline_core.payloads import ServingSetupInput
from driftline_core.settings import get_deployment_settings

logger = Logger()


@logger.inject_lambda_context(correlation_id_path="execution_id")
@validated_event(ServingSetupInput)
def lambda_handler(event: ServingSetupInput, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(endpoint_name=event.deployment.endpoint_name)
    setup = finish_deployment(event, get_deployment_settings())
    logger.info("Endpoint set up", extra={"autoscaling": setup.autoscaling})
    return setup.model_dump(mode="json")
