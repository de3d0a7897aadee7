"""StartRetrain: a drift alarm of this stack went to ALARM, or a pipeline run ended; start one retrain or say why not.

A drift alarm found while a run of its dataset is in progress is held, and the end of such a run without a new
serving model decides it then.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from driftline_core.aws.events import AlarmStateChangeEvent, ExecutionStatusChangeEvent
from driftline_core.drift.release import release_held_drift
from driftline_core.drift.retrain import retrain_on_drift
from driftline_core.handler_input import validate_event
from driftline_core.payloads import RetrainResult
from driftline_core.settings import get_settings

logger = Logger()
metrics = Metrics()

RUN_ENDED = "Step Functions Execution Status Change"


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result: RetrainResult
    if event.get("detail-type") == RUN_ENDED:
        ended = validate_event(event, ExecutionStatusChangeEvent)
        logger.append_keys(ended_execution_arn=ended.detail.execution_arn)
        result = release_held_drift(ended, get_settings())
        skipped = "RunEndsWithoutRetrain"
    else:
        alarm = validate_event(event, AlarmStateChangeEvent)
        logger.append_keys(alarm=alarm.detail.alarm_name)
        result = retrain_on_drift(alarm, get_settings())
        skipped = "DriftAlarmsHeld" if result.held else "DriftAlarmsSkipped"
    logger.append_keys(dataset=result.dataset, execution_arn=result.execution_arn)
    logger.info(result.reason, extra={"started": result.started, "notified": result.notified, "held": result.held})
    metrics.add_metric(name="RetrainsStarted" if result.started else skipped, unit=MetricUnit.Count, value=1)
    return result.model_dump(mode="json")
