"""DecideTrial: read the trial analysis job's decision and say who serves after the A/B trial."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from driftline_core.deployment.trial_decision import decide_trial
from driftline_core.handler_input import validated_event
from driftline_core.payloads import DecideTrialInput

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path="execution_id")
@metrics.log_metrics
@validated_event(DecideTrialInput)
def lambda_handler(event: DecideTrialInput, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(dataset=event.dataset, trial_analysis_job=event.trial_analysis.job_name)
    decision = decide_trial(event)
    promoted = 1 if decision.winner == "challenger" else 0
    metrics.add_metric(name="ChallengerPromoted", unit=MetricUnit.Count, value=promoted)
    logger.info(
        "Trial decided",
        decision=decision.decision,
        winner=decision.winner,
        metric=decision.metric,
        champion_value=decision.champion_value,
        challenger_value=decision.challenger_value,
        p_value=decision.p_value,
    )
    return decision.model_dump(mode="json")
