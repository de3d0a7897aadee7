"""TestStaging: the candidate on its staging endpoint answers held-out rows as evaluated and keeps up under load."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from driftline_core.deployment.staging_tests import raise_if_failed, run_staging_tests
from driftline_core.handler_input import validated_event
from driftline_core.payloads import StagingTestInput
from driftline_core.settings import get_settings, get_staging_settings

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path="execution_id")
@metrics.log_metrics
@validated_event(StagingTestInput)
def lambda_handler(event: StagingTestInput, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(endpoint_name=event.staging.endpoint_name, model_package_arn=event.staging.model_package_arn)
    seconds_left = context.get_remaining_time_in_millis() / 1000
    result = run_staging_tests(event, get_settings(), get_staging_settings(), seconds_left=seconds_left)
    smoke, load = result.smoke, result.load
    metrics.add_metric(name="StagingSmokeMismatches", unit=MetricUnit.Count, value=smoke.mismatches)
    metrics.add_metric(name="StagingLoadErrors", unit=MetricUnit.Count, value=load.errors)
    metrics.add_metric(name="StagingLoadP99", unit=MetricUnit.Milliseconds, value=load.p99_milliseconds)
    logger.info(
        "Staging tests measured",
        smoke_rows=smoke.rows,
        smoke_mismatches=smoke.mismatches,
        smoke_passed=smoke.passed,
        load_requests=load.requests,
        load_errors=load.errors,
        load_p50_milliseconds=load.p50_milliseconds,
        load_p99_milliseconds=load.p99_milliseconds,
        load_passed=load.passed,
        report_uri=result.report_uri,
    )
    raise_if_failed(result)
    return result.model_dump(mode="json")
