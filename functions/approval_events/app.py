"""ApprovalEvents: a model package's status set in the Model Registry decides its pending approval."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from driftline_core.approval.decisions import decide_from_registry_event
from driftline_core.aws.events import ModelPackageStateChange
from driftline_core.handler_input import validated_event
from driftline_core.settings import get_approval_settings

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@metrics.log_metrics
@validated_event(ModelPackageStateChange)
def lambda_handler(event: ModelPackageStateChange, context: LambdaContext) -> dict[str, Any]:
    result = decide_from_registry_event(event.detail, get_approval_settings())
    outcome = result.outcome if result is not None else "not_a_decision"
    logger.info("Registry status change handled", extra={"outcome": outcome})
    names = {"decided": "RegistryDecisions", "restored": "RegistryStatusesSetBack"}
    metrics.add_metric(name=names.get(outcome, "RegistryEventsIgnored"), unit=MetricUnit.Count, value=1)
    return {"outcome": outcome}
