"""RemoveStaging: delete the candidate's staging endpoint once the decision is made, or the run failed."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from driftline_core.deployment.staging import remove_staging
from driftline_core.handler_input import validated_event
from driftline_core.payloads import RemoveStagingInput
from driftline_core.settings import get_settings

logger = Logger()


@logger.inject_lambda_context(correlation_id_path="execution_id")
@validated_event(RemoveStagingInput)
def lambda_handler(event: RemoveStagingInput, context: LambdaContext) -> dict[str, Any]:
    return remove_staging(event, get_settings()).model_dump(mode="json")
