"""QualityGate: decide whether the candidate model is good enough to register."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from driftline_core.handler_input import validated_event
from driftline_core.payloads import GateInput
from driftline_core.settings import get_settings
from driftline_core.training.quality_gate import evaluate_gate

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path="execution_id")
@metrics.log_metrics
@validated_event(GateInput)
def lambda_handler(event: GateInput, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(dataset=event.dataset, evaluation_job=event.evaluation.job_name)
    result = evaluate_gate(event, settings=get_settings())
    metrics.add_metric(name="GatePassed", unit=MetricUnit.Count, value=1 if result.passed else 0)
    logger.info(
        "Quality gate decided",
        passed=result.passed,
        metric=result.metric,
        value=result.value,
        threshold=result.threshold,
        incumbent_model_package_arn=result.incumbent_model_package_arn,
    )
    return result.model_dump(mode="json")
