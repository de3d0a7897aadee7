"""StartMonitoring: a drift schedule fired (start the window's monitor job), or a drift job ended (publish, notify)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from driftline_core.aws.events import ProcessingJobStateChange
from driftline_core.drift.job_events import handle_job_event
from driftline_core.drift.schedules import MonitoringRequest
from driftline_core.drift.windows import start_monitoring
from driftline_core.handler_input import validate_event
from driftline_core.settings import get_monitoring_settings, get_settings

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("detail-type") == "SageMaker Processing Job State Change":
        job_event = validate_event(event, ProcessingJobStateChange)
        outcome = handle_job_event(
            job_event.detail, get_settings(), get_monitoring_settings(), function_arn=context.invoked_function_arn
        )
        logger.info("Drift job ended", extra=outcome.model_dump(mode="json"))
        return outcome.model_dump(mode="json")
    request = validate_event(event, MonitoringRequest)
    logger.append_keys(endpoint_name=request.endpoint_name, dataset=request.dataset)
    started = start_monitoring(request, get_settings(), get_monitoring_settings())
    logger.info(started.reason, extra={"outcome": started.outcome, "job_name": started.job_name})
    return started.model_dump(mode="json")
