"""StartRetrain: a drift alarm of this stack went to ALARM; start one retrain of its dataset, or say why not."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from driftline_core.aws.events import AlarmStateChangeEvent
from driftline_core.drift.retrain import retrain_on_drift
from driftline_core.handler_input import validated_event
from driftline_core.settings import get_settings

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@metrics.log_metrics
@validated_event(AlarmStateChangeEvent)
def lambda_handler(event: AlarmStateChangeEvent, context: LambdaContext) -> dict[str, Any]:
    result = retrain_on_drift(event, get_settings())
    logger.append_keys(dataset=result.dataset, execution_arn=result.execution_arn, alarm=event.detail.alarm_name)
    logger.info(result.reason, extra={"started": result.started, "notified": result.notified})
    metrics.add_metric(
        name="RetrainsStarted" if result.started else "DriftAlarmsSkipped", unit=MetricUnit.Count, value=1
    )
    return result.model_dump(mode="json")
