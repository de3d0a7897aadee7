"""Validate: check the uploaded CSV (a drift run: every upload of its window) and write the run's resolved config."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from driftline_core.errors import DatasetConfigInvalid, ValidationFailed
from driftline_core.handler_input import validated_event
from driftline_core.ingest.validation import validate_upload
from driftline_core.payloads import StepInput
from driftline_core.settings import get_release_settings, get_settings

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path="execution_id")
@metrics.log_metrics
@validated_event(StepInput)
def lambda_handler(event: StepInput, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(dataset=event.dataset, data_uri=event.data.uri, data_version_id=event.data.version_id)
    try:
        result = validate_upload(event, settings=get_settings(), release=get_release_settings())
    except (ValidationFailed, DatasetConfigInvalid):
        # Raised on so the state machine sees the error name; counted so rejected uploads can be alarmed on.
        metrics.add_metric(name="UploadsRejected", unit=MetricUnit.Count, value=1)
        raise
    metrics.add_metric(name="RowsValidated", unit=MetricUnit.Count, value=result.rows)
    logger.info("Upload accepted", rows=result.rows, files=result.files or 1, schema_source=result.schema_source)
    return result.model_dump(mode="json")
